# TeckTrack inference service: `tecktrack serve` (waitress) with the demo models.
#   docker build -t tecktrack .
#   docker run --rm -e TECKTRACK_TOKEN="$(openssl rand -hex 16)" \
#       -p 127.0.0.1:8000:8000 -p 127.0.0.1:5000:5000/udp \
#       -v "$PWD/data:/app/data:ro" -v "$PWD/results:/app/results" tecktrack
# The server listens on 0.0.0.0 (so the published port reaches it) ONLY when TECKTRACK_TOKEN
# is set; every route but /health then needs "Authorization: Bearer $TECKTRACK_TOKEN".
# Without a token it listens on the container's own 127.0.0.1, unreachable from outside, and
# says so on stderr. Publish on 127.0.0.1 (as above) to keep it on the host's loopback too.
# UDP sources may only listen on loopback ports >= 1024 unless `--udp-host` says otherwise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TECKTRACK_HOME=/app

WORKDIR /app
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin tecktrack

# the package (OpenCV headless, ONNX Runtime and PyAV wheels bundle their native libraries)
COPY pyproject.toml README.md ./
COPY tecktrack ./tecktrack
RUN pip install . && rm -rf build tecktrack.egg-info

# the demo detectors (models/demo-n, models/demo-s: model.onnx + model.yaml)
COPY models ./models
RUN mkdir -p data results && chown tecktrack:tecktrack data results

USER tecktrack
EXPOSE 8000 5000/udp
VOLUME ["/app/data", "/app/results"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"
CMD ["sh", "-c", "if [ -n \"$TECKTRACK_TOKEN\" ]; then host=0.0.0.0; else host=127.0.0.1; echo 'TECKTRACK_TOKEN is not set: listening on 127.0.0.1 inside the container only (unreachable from outside); set it to listen on 0.0.0.0 with token auth' >&2; fi; exec tecktrack serve --host \"$host\" --port 8000 --data-root /app/data"]
