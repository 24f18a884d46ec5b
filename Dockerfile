# Abri: the API and dashboard. Build: docker build -t abri .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    WEB_CONCURRENCY=2

RUN groupadd --system abri && useradd --system --gid abri --home-dir /app --no-create-home abri

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY allocation ./allocation
COPY migrations ./migrations
COPY alembic.ini ./
# Installs the dependencies (and the package). The processes run from /app, the working
# directory, so that alembic.ini and migrations/ sit where app/core/paths.py expects them.
RUN pip install . && rm -rf /root/.cache \
    && mkdir -p /app/data && chown abri:abri /app/data

# Only a fallback so that a bare `docker run` works: production sets a PostgreSQL URL.
ENV DATABASE_URL=sqlite:////app/data/abri.db

USER abri
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz', timeout=4)" || exit 1

# Migrate, then serve; exec so that the server replaces the shell and receives the signals.
# python -m app serve, not uvicorn itself: on SQLite it starts its local solver worker.
CMD ["sh", "-c", "python -m app migrate && exec python -m app serve --host 0.0.0.0 --port \"$PORT\" --workers \"$WEB_CONCURRENCY\""]
