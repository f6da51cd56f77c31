# dockbot: the Slack bot's image.
#
#   docker build -t dockbot .
#   docker build --secret id=ca,src=/path/to/corporate-ca.pem -t dockbot .    # TLS-intercepting networks
#
# BASE_IMAGE is any Debian-like image with python3 >= 3.11 and the venv module: the official slim image by
# default; CI (no registry reachable) passes a debootstrapped Debian with python3 (.ci/image.sh).
# No "# syntax=" line on purpose: it would pull a frontend image; the engine's built-in Dockerfile frontend
# already knows RUN --mount (secrets, caches).
ARG BASE_IMAGE=python:3.11-slim

# ---- builder: resolve, download and build every wheel; install them into a self-contained venv -------------------
# The venv leaves without pip and setuptools: the running bot installs nothing.
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
# The venv is made with the base's own python3, so the final stage (same base) runs it unchanged.
RUN python3 -m venv /opt/venv
WORKDIR /src
# Dependencies first, from the hash-pinned lock (bash .ci/lock.sh update): a layer that only changes with the lock,
# and pip refuses any file whose hash is not in it. Then the project itself, without resolving anything.
COPY requirements.lock ./
# The extra CA bundle (if any) exists only while this RUN runs, at /run/secrets/ca: it is never written to a layer
# and the variables pointing at it die with the shell. The pip cache is a build cache mount, not a layer either.
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/ca ]; then \
      export PIP_CERT=/run/secrets/ca REQUESTS_CA_BUNDLE=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; \
    fi \
    && /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY handlers/ handlers/
# The starter knowledge is package data (bot.starter_knowledge), so the build needs it too.
COPY knowledge/ knowledge/
# The locked setuptools builds this pure-Python project (--no-build-isolation: nothing unpinned is fetched).
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation --no-index . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

# ---- final: the base, the venv, the knowledge; no compiler, no wheels, no source tree -----------------------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCKBOT_KNOWLEDGE_DIR=/app/knowledge \
    DOCKBOT_DB=/data/dockbot.db \
    DOCKBOT_HEARTBEAT_FILE=/tmp/dockbot.heartbeat \
    XDG_CACHE_HOME=/data/cache \
    PORT=3000

# A fixed, unprivileged uid/gid so that volume ownership is predictable; /data is where a named volume holds
# the SQLite database and the matcher's cache (a fresh named volume copies this directory and its owner).
RUN groupadd --gid 10001 dockbot \
    && useradd --no-log-init --no-create-home --uid 10001 --gid dockbot --home-dir /app --shell /usr/sbin/nologin dockbot \
    && mkdir -p /app /data \
    && chown dockbot:dockbot /data

COPY --from=builder /opt/venv /opt/venv
# Baked-in knowledge, owned by root and read-only for the bot; mount a directory over /app/knowledge (or set
# DOCKBOT_KNOWLEDGE_DIR) to serve the admins' live copy instead.
COPY knowledge/ /app/knowledge/

# Numeric, so that runtimes (and Kubernetes runAsNonRoot) can tell it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /app
# Warm-up and smoke test: train the matcher's model for the baked-in knowledge into /data/cache
# (XDG_CACHE_HOME; .npz + JSON, no pickle), so a container's first start skips training, then answer a
# question to prove the installed package runs. A fresh named volume on /data starts with this cache.
RUN python -m bot.live_knowledge /app/knowledge /tmp/dockbot-training.lock \
    && dockbot ask --json "명명된 볼륨이 뭐야?" > /dev/null
EXPOSE 3000
# HTTP mode: GET /healthz on PORT; Socket Mode: the heartbeat file is fresh (see bot/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
ENTRYPOINT ["dockbot"]
CMD ["serve"]

# Metadata last: BUILD_DATE and VCS_REF change on every build and would otherwise invalidate the layers above.
ARG VERSION=0.1.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="dockbot" \
      org.opencontainers.image.description="Slack bot answering Docker/Kubernetes questions asked in Korean, with live Docker demos" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      org.opencontainers.image.documentation="docs/deploy.ko.md"
