# buddycheck: one process, configured by a TOML file mounted at /config/config.toml.
# Build, run, check and bump: docs/operating.md, "Container".
#
# The base is pinned by digest, so a rebuild gets the same Python and Debian files whatever
# the tag points at today. This digest was copied from public Dockerfiles of two unrelated
# projects that pin python:3.11-slim-bookworm; it could not be checked against Docker Hub
# where it was written. Before deploying (and on every bump) compare it with
#   docker buildx imagetools inspect python:3.11-slim-bookworm   (the "Digest:" line)
# or  skopeo inspect --raw docker://python:3.11-slim-bookworm | sha256sum
# and replace it with what that prints.
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# No .pyc written at run time (site-packages is read-only for the bot's user anyway), logs
# unbuffered so `docker logs` shows a line when it happens, and pip quiet about itself.
# The configuration is mounted read-only at /config: its relative paths (the default SQLite
# database, data/buddycheck.db) are taken from /app instead, so the database is in the volume.
ENV BUDDYCHECK_HOME=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A fixed time for whatever the install writes: with it set, Python compiles hash-based
# .pyc files (no build time inside) and useradd dates the account by it. Pass the last
# commit's time: --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)".
ARG SOURCE_DATE_EPOCH=0

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY checkins ./checkins
COPY storage ./storage
# Every package, setuptools in pip's build environment too (PIP_CONSTRAINT reaches it where
# -c does not), at the version constraints.txt pins: no "latest" at build time. No
# apt-get upgrade: the Debian files are exactly the pinned base's. The build's own leftovers
# (build/, *.egg-info) are removed so only the installed package remains. A fixed uid, so
# files in the data volume keep their owner across rebuilds.
RUN PIP_CONSTRAINT=/app/constraints.txt pip install --no-cache-dir -c constraints.txt . \
    && rm -rf build ./*.egg-info \
    && useradd --system --uid 10001 --user-group --no-log-init --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin buddycheck \
    && mkdir -p /app/data \
    && chown buddycheck:buddycheck /app/data \
    && chmod 700 /app/data

USER 10001:10001
# The SQLite database (config.example.toml: sqlite:///data/buddycheck.db, relative to /app).
# With PostgreSQL ([database] url) it stays empty. Never put the pepper in here: it must
# live apart from the database and its backups.
VOLUME /app/data

# `buddycheck status` asks /healthz on [health] listen (loopback, inside the container) and
# exits 0 healthy, 1 not healthy, 2 nothing answers; Docker reserves 2, so it becomes 1.
# Its sentences land in `docker inspect`'s health log. interval 30s: the engine check
# already allows 90 s without a round, so probing faster finds nothing sooner; timeout 15s:
# the probe waits up to 10 s for /healthz (3 s of it for the database) plus Python's start;
# start-period 60s: migrations and the first Signal/Telegram connection, whose failures
# must not count; retries 3: "unhealthy" after three failures in a row (about 1.5 minutes),
# so one slow answer under load does not restart the bot, a real outage is still seen soon.
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "buddycheck status --config /config/config.toml || exit 1"]

ENTRYPOINT ["buddycheck"]
CMD ["run", "--config", "/config/config.toml"]
