# syntax=docker/dockerfile:1.7
# One image for every dagq role: `api` (default), `worker`, `orchestrator`, `web`.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY app ./app
COPY serve ./serve
RUN python -m venv /opt/dagq \
 && /opt/dagq/bin/pip install --upgrade pip \
 && /opt/dagq/bin/pip install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="dagq" \
      org.opencontainers.image.description="Workflow orchestrator over Redis with a visual DAG designer"
RUN groupadd --system --gid 10001 dagq \
 && useradd --system --uid 10001 --gid dagq --home-dir /var/lib/dagq --create-home dagq \
 && mkdir -p /etc/dagq/policies \
 && chown -R dagq:dagq /etc/dagq
COPY --from=build /opt/dagq /opt/dagq
COPY --chown=dagq:dagq policies/model.conf policies/policy.csv policies/README.md /etc/dagq/policies/
COPY examples /opt/dagq/examples
ENV PATH=/opt/dagq/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGQ_DATA_DIR=/var/lib/dagq \
    DAGQ_POLICIES_DIR=/etc/dagq/policies \
    DAGQ_API__HOST=0.0.0.0 \
    DAGQ_WEB__HOST=0.0.0.0
USER dagq
WORKDIR /var/lib/dagq
VOLUME ["/etc/dagq/policies"]
EXPOSE 8080 8000
# The API's health; the web and worker services override it in compose.yaml.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
ENTRYPOINT ["dagq"]
CMD ["api", "--port", "8080"]
