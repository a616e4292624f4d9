# The worker image, for either service: SERVICE names the service's directory, copied
# beside common/, and the module the container runs (`python -m service1`). Build
# context: the repository root, so the image gets common/ too:
#   docker build -f docker/worker.Dockerfile --build-arg SERVICE=service1 .
# (the compose file builds service1 and service2 from this file, each with its SERVICE).
# Plain Dockerfile syntax only: the classic builder (no BuildKit) must build it as well.
# PYTHON_IMAGE lets CI build from a stand-in where no image registry can be reached.
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE}

# Up to the pip install, the same steps as dashboard/Dockerfile, word for word: the four
# images of the compose file share these layers, so a build installs the requirements
# once, not four times. (The classic builder commits a layer per step; on a slow storage
# driver each costs seconds.) SERVICE is declared after them for the same reason: a build
# argument in scope is part of every later RUN's cache key.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN python -m pip install -r requirements.txt

ARG SERVICE
RUN test -n "${SERVICE}" || { echo "the SERVICE build argument is missing (service1 or service2)" >&2; exit 1; } \
    && useradd --system --user-group --uid 10001 --no-create-home --home-dir /app worker

# PYTHONUNBUFFERED (above): each log line reaches `docker compose logs` when it is written.
# HEALTH_FILE: the worker rewrites it every tick; the HEALTHCHECK below reads it.
# WORKER_MODULE: what CMD runs; the image's record of which service it is.
ENV HEALTH_FILE=/tmp/health \
    WORKER_MODULE=${SERVICE}

COPY common/ common/
COPY ${SERVICE}/ ${SERVICE}/

USER worker

# Healthy iff the worker wrote its health file within the last tick or so (common/health.py);
# the image has no curl or nc, and needs none.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "common.health"]

# `exec`: python replaces the shell and is PID 1, so it gets SIGTERM itself; the worker
# then deletes its node, closes its ZooKeeper session and exits 0, so the other worker
# takes over at once. (The shell only names the module: an exec-form CMD cannot.)
CMD ["sh", "-c", "exec python -m \"$WORKER_MODULE\""]
