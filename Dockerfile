# gitlab_jobs_exporter image. Build from the repository root:
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t gitlab_jobs_exporter .
# The gitlab-sim target holds the fake GitLab used by deploy/docker-compose.yml.

FROM golang:1.26 AS builder
WORKDIR /src
# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
ENV CGO_ENABLED=0
# /out/data is an empty directory for the final image's /data, copied there
# owned by nonroot so that a volume mounted on it starts writable.
RUN LDFLAGS="-s -w \
      -X github.com/prometheus/common/version.Version=${VERSION} \
      -X github.com/prometheus/common/version.Revision=${REVISION} \
      -X github.com/prometheus/common/version.Branch=${BRANCH} \
      -X github.com/prometheus/common/version.BuildUser=docker \
      -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
    && go build -trimpath -ldflags "${LDFLAGS}" -o /out/gitlab_jobs_exporter . \
    && go build -trimpath -ldflags "${LDFLAGS}" -o /out/gitlab-sim ./cmd/gitlab-sim \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot AS gitlab-sim
COPY --from=builder /out/gitlab-sim /bin/gitlab-sim
USER nonroot
EXPOSE 8081
ENTRYPOINT ["/bin/gitlab-sim"]
CMD ["--listen-address", "0.0.0.0:8081"]

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gitlab_jobs_exporter" \
      org.opencontainers.image.description="Prometheus exporter for GitLab CI jobs" \
      org.opencontainers.image.source="https://github.com/gitlab-jobs-exporter/gitlab_jobs_exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/gitlab_jobs_exporter /bin/gitlab_jobs_exporter
COPY --from=builder --chown=65532:65532 /out/data /data
USER nonroot
EXPOSE 9835
VOLUME /data
ENTRYPOINT ["/bin/gitlab_jobs_exporter"]
CMD ["--config.file=/etc/gitlab_jobs_exporter/config.yml", "--storage.path=/data"]
