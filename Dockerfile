# One image for every Jetbridge service. The entrypoint is `tini -- python -m` and the
# first argument names the service's module:
#
#   docker run IMAGE jetbridge.navigator
#   docker run IMAGE jetbridge.navigator.projections run
#   docker run IMAGE jetbridge.dplink | jetbridge.dispatcher | jetbridge.console
#   docker run IMAGE jetbridge.agent | jetbridge.pilot
#
# Configuration is JETBRIDGE_* environment variables only (the Helm charts under
# deploy/helm set them); the image holds no credentials and no .state/.
# Dependencies come from uv.lock exactly (`uv sync --frozen --no-dev`).
#
# Not built on the development machine (it has no Docker engine): see
# docs/operations.md. Build: `docker build -t jetbridge:0.1.0 .`

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The same uv as deploy/local/bootstrap.sh.
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# Third-party dependencies first: this layer changes only with the lock.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# The project itself, as a wheel (not editable): schemas/ is packaged into it.
COPY libs ./libs
COPY services ./services
COPY schemas ./schemas
RUN uv sync --frozen --no-dev --no-editable
# The gRPC stubs are generated on first import (schemas/proto/generate.py); do it now so
# the read-only container never writes. The generator's freshness stamp names the
# grpcio-tools version, so that package (a dev dependency, at the lock's version) stays
# in the image.
RUN uv export --frozen --all-groups --no-hashes --no-emit-project -o /tmp/constraints.txt \
 && uv pip install --python /app/.venv/bin/python -c /tmp/constraints.txt grpcio-tools \
 && /app/.venv/bin/python -c "import jetbridge.common.dataplane_api"

FROM ${PYTHON_IMAGE}
# tini as PID 1: forwards SIGTERM to the service (a Python PID 1 without a handler
# would ignore it) and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 jetbridge \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin jetbridge
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    JETBRIDGE_STATE_DIR=/tmp/jetbridge
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["tini", "--", "python", "-m"]
CMD ["jetbridge.console"]
