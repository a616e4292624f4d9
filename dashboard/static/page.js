// The live page: one EventSource on /events, one JSON state per change (see
// dashboard/board.py for its keys). Nothing is polled: the browser redraws the rolling
// work strip from the last state it got, and the server sends a new one when
// ZooKeeper announces a change. Every string is set as text, never as markup.
"use strict";

// Okabe-Ito, without vermillion (kept for trouble): the token colours, by index.
const PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#CC79A7", "#F0E442"];
const TROUBLE = "#D55E00";
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000;

let state = null;
let skewMs = 0; // the server's clock minus this browser's

function $(id) { return document.getElementById(id); }

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function swatch(colour) {
  const box = el("span", "swatch");
  box.style.background = PALETTE[colour % PALETTE.length];
  return box;
}

function clock(seconds) {
  return new Date(seconds * 1000).toISOString().slice(11, 19);
}

function now() { return (Date.now() + skewMs) / 1000; }

function fill(list, items, make) {
  list.replaceChildren(...items.map(make));
}

function renderBanner(s) {
  const banner = $("banner");
  let headline, subline, kind;
  if (s.quorum.has === false) {
    kind = "trouble";
    headline = "NO QUORUM: nobody may work";
    subline = `${s.quorum.serving} of ${s.quorum.size} ZooKeeper servers serve; ` +
      "a majority is needed";
  } else if (s.leader && s.may_work) {
    kind = "leading";
    headline = `${s.leader.identity} leads`;
    subline = `fencing token ${s.leader.token} · node ${s.leader.node}` +
      ` · session ${s.leader.session}`;
  } else if (s.leader) {
    kind = "trouble";
    headline = `${s.leader.identity} leads, as last seen`;
    subline = `${s.why_not}: this view may be stale`;
  } else {
    kind = "waiting";
    headline = "no leader";
    subline = s.connection === "CONNECTED" ? "no candidate has joined" : s.why_not;
  }
  banner.className = `banner ${kind}`;
  banner.dataset.state = kind;
  $("headline").textContent = headline;
  $("subline").textContent = subline;
}

function renderCandidates(s) {
  fill($("candidates"), s.candidates, (c) => {
    const row = el("li");
    row.append(el("span", "rank", c.rank), swatch(c.colour), el("span", "name", c.identity),
      el("span", "token", c.token), el("span", "hint", c.rank === 1 ? "leader" : c.node));
    return row;
  });
  if (!s.candidates.length) $("candidates").append(el("li", "gone", "none"));
  fill($("sessions"), s.sessions, (x) => {
    const row = el("li", x.live ? "" : "gone");
    row.append(el("span", "name", x.worker), el("span", "", x.state),
      el("span", "session", x.session));
    return row;
  });
}

function renderServers(s) {
  fill($("servers"), s.servers, (x) => {
    const row = el("li");
    const serving = ["leader", "follower", "standalone"].includes(x.mode);
    row.append(el("span", "name", x.name),
      el("span", serving ? `mode-${x.mode}` : "mode-none", x.text));
    return row;
  });
  const q = $("quorum");
  if (s.quorum.has === null) {
    q.textContent = "quorum ?";
    q.className = "quorum";
  } else {
    q.textContent = s.quorum.has ? `quorum ${s.quorum.serving}/${s.quorum.size}` : "no quorum";
    q.className = s.quorum.has ? "quorum" : "quorum none";
  }
}

function renderChanges(s) {
  fill($("changes"), s.changes.slice(0, 5), (c) => {
    const row = el("li");
    row.append(el("span", "at", clock(c.time)), el("span", "", c.text));
    return row;
  });
}

function renderLegend(s) {
  const seen = new Map();
  const work = s.work;
  for (const item of work.source === "ledger" ? work.units : work.spans) {
    seen.set(item.token, item.colour);
  }
  const legend = $("legend");
  legend.replaceChildren();
  for (const [token, colour] of [...seen.entries()].slice(-4)) {
    const item = el("span");
    item.append(swatch(colour), el("span", "token", `token ${token}`));
    legend.append(item);
  }
  const silence = el("span");
  const box = el("span", "swatch");
  box.style.background = "#ffffff";
  box.style.borderStyle = "dashed";
  box.style.borderColor = TROUBLE;
  silence.append(box, el("span", "", "silence: nobody works (seconds, why)"));
  legend.append(silence);
  const refused = el("span");
  const cross = el("span", "", "✕");
  cross.style.color = TROUBLE;
  cross.style.fontWeight = "bold";
  refused.append(cross, el("span", "", "unit refused by the ledger"));
  legend.append(refused);
  $("work-source").textContent = work.source === "ledger"
    ? "one mark per unit in the ledger"
    : "ZooKeeper's view: one mark a second while a leader holds its node";
}

function drawStrip() {
  if (!state) return;
  const work = state.work;
  const t1 = now();
  const t0 = t1 - work.window_s;
  const x = (t) => ((t - t0) / work.window_s) * WIDTH;
  const strip = $("strip");
  const parts = [];
  const step = (work.interval_s / work.window_s) * WIDTH;
  const markWidth = Math.max(2, step * 0.6);
  // Labels go in the row above the marks, drawn last, each only where it fits and
  // does not cover another: silences first (their length is the lesson), then spans.
  const labels = [];
  const label = (left, right, text, bold) => {
    const width = text.length * 12.5;
    const centre = Math.min(WIDTH - width / 2, Math.max(width / 2, (left + right) / 2));
    const from = centre - width / 2;
    const to = centre + width / 2;
    if (labels.some((l) => from < l.to + 8 && to > l.from - 8)) return;
    labels.push({ from, to, text, bold });
  };
  for (const s of work.silences) {
    const end = s.end === null ? t1 : s.end;
    if (end < t0) continue;
    const left = Math.max(0, x(s.start));
    const right = x(end);
    parts.push(svg("rect", { x: left, y: 30, width: Math.max(1, right - left), height: 50,
      fill: "#ffffff", stroke: TROUBLE, "stroke-width": 2, "stroke-dasharray": "6 4" }));
    const seconds = s.end === null ? `${(t1 - s.start).toFixed(0)} s…` : `${s.seconds} s`;
    label(left, right, `${seconds} ${s.reason}`, true);
  }
  const mark = (t, colour, refused) => {
    if (t < t0 || t > t1) return;
    if (refused) {
      parts.push(svg("text", { x: x(t), y: 66, "text-anchor": "middle", "font-size": 28,
        "font-weight": "bold", fill: TROUBLE }, "✕"));
      return;
    }
    parts.push(svg("rect", { x: x(t) - markWidth / 2, y: 34, width: markWidth, height: 42,
      fill: PALETTE[colour % PALETTE.length], stroke: "#000000", "stroke-width": 1 }));
  };
  if (work.source === "ledger") {
    for (const u of work.units) mark(u.time, u.colour, u.refused);
  } else {
    for (const s of work.spans) {
      const end = s.end === null ? t1 : s.end;
      if (end < t0) continue;
      let t = s.start;
      if (t < t0) t += Math.ceil((t0 - t) / work.interval_s) * work.interval_s;
      for (; t <= end; t += work.interval_s) mark(t, s.colour, false);
      const left = Math.max(0, x(s.start));
      const right = Math.min(WIDTH, x(end));
      const text = `${s.worker} ${s.token}`;
      if (right - left >= text.length * 12.5) label(left, right, text, false);
    }
  }
  for (const l of labels) {
    parts.push(svg("rect", { x: l.from - 3, y: 6, width: l.to - l.from + 6, height: 24,
      fill: "#ffffff" }));
    parts.push(svg("text", { x: (l.from + l.to) / 2, y: 25, "text-anchor": "middle",
      "font-size": 20, "font-weight": l.bold ? "bold" : "normal", fill: "#000000" }, l.text));
  }
  for (const [label, at] of [["−60 s", 0], ["−30 s", 500], ["now", WIDTH]]) {
    parts.push(svg("text", { x: at === 0 ? 2 : at === WIDTH ? WIDTH - 2 : at, y: 104,
      "font-size": 18, fill: "#4d4d4d",
      "text-anchor": at === 0 ? "start" : at === WIDTH ? "end" : "middle" }, label));
  }
  strip.replaceChildren(...parts);
}

function render() {
  renderBanner(state);
  renderCandidates(state);
  renderServers(state);
  renderChanges(state);
  renderLegend(state);
  drawStrip();
}

function connect() {
  const link = $("link");
  const events = new EventSource("events");
  events.onopen = () => {
    link.textContent = "live";
    link.className = "link";
  };
  events.onmessage = (message) => {
    state = JSON.parse(message.data);
    skewMs = state.time * 1000 - Date.now();
    link.textContent = `live · ${state.election} · updated ${clock(state.time)} UTC`;
    link.className = "link";
    render();
  };
  events.onerror = () => {
    // The browser reconnects by itself (the server asks for 1 s).
    link.textContent = "the dashboard service does not answer: reconnecting…";
    link.className = "link down";
  };
}

connect();
// The strip rolls with the clock; the news itself only comes from the server.
setInterval(drawStrip, 250);
