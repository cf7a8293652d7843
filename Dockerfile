# One image for every Relais service; compose picks the service by its command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RELAIS_LOG_FORMAT=json RELAIS_HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY relais ./relais
RUN pip install --no-cache-dir . && useradd --system --uid 10001 relais && mkdir -p /data /keys /secrets /nats-auth \
    && chown relais /data /keys /secrets /nats-auth
USER relais
