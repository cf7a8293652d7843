# A local stand-in for `python:3.11-slim`, for machines that reach Debian's mirror and PyPI but no
# image registry: Debian 12's Python 3.11 on a minimal Debian made by debootstrap (engine.sh).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python-is-python3 python3-pip \
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED
# The host's CA bundle, when its outbound TLS is intercepted (engine.sh copies it; never committed).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
