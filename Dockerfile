# One image for every Relais service; compose picks the service by its command. Two targets:
# `production` (the default, last) has no sandbox, a test double that must never be deployed;
# `demo` adds it for `docker compose --profile demo up`.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS source
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY relais ./relais
# Removed in a stage of its own, so that no layer of the production image holds it.
RUN rm -rf services/sandbox

FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RELAIS_LOG_FORMAT=json RELAIS_HOST=0.0.0.0
WORKDIR /app
# The dependencies first, from pyproject.toml alone: a change of the source reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=source /app /app
# Every mount point of docker-compose.yml, owned by the services' user and closed to others: a fresh
# named volume takes its owner and mode from here (the processes add umask 077 for their files).
# The services run as that user, never as root (only compose's `init` job does, to hand files over).
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 relais \
    && mkdir -p /data /keys /secrets /nats-auth /token-public-key \
    && chown relais /data /keys /secrets /nats-auth /token-public-key \
    && chmod 0700 /data /keys /secrets /nats-auth /token-public-key
USER relais

FROM base AS demo
COPY --chown=relais services/sandbox ./services/sandbox

FROM base AS production
