"""The test bed: real ZooKeeper, real processes, real faults; what tests/, bench/ and the
soak all stand on (as kazoo ships ``kazoo.testing`` and Curator ``curator-test``).

Nothing here imports pytest or the tests. Modules:

``ensemble``         ``find_zookeeper()``, ``Ensemble``, ``Server``, ``four_letter()``,
                     ``free_ports()``: a real ZooKeeper ensemble on loopback.
``faultproxy``       ``FaultProxy``: forward / drop / blackhole / lose one create,
                     between a client and the servers.
``processes``        ``WorkerProcess``, ``wait_until()``, ``event_named()``: candidate
                     processes signalled by PID, and polling with a deadline.
``checker``          ``Tick``, ``ticks_from_events()``, ``windows()``, ``violations()``:
                     the E1 judge over tick logs (pure logic).
``java_candidates``  ``JavaCandidateBuild``, ``JavaProgram``: compiles Java candidates
                     (the article's recipe in ``testbed/java/``, and any a caller adds),
                     each jar set on its own, cached, and gives each one's command line.
``procstats``        ``ProcSample``, ``cpu_seconds_per_minute()``: resident memory and
                     CPU time of a process, from ``/proc``.
``zkstats``          ``ZkProbe``: what the servers count per session (``cons``), which
                     session owns which ephemeral node (``dump``), who watches what
                     (``wchp``) and their own gauges (``mntr``), through four-letter words.
``provenance``       ``commit()``, ``machine()``, ``LoadWatch``: which run published
                     numbers come from (the benchmark, the soak, the demos' ranges).
"""
