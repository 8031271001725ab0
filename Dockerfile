# The helpdesk image: one image for web (uvicorn), worker and beat; see docker-compose.yml.
# In containers PostgreSQL and Redis are separate services (DATABASE_URL / REDIS_URL), never the
# embedded ones.

FROM node:22-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=helpdesk.settings \
    HELPDESK_DATA_DIR=/data

RUN useradd --system --user-group --no-create-home --home-dir /app helpdesk \
    && mkdir -p /data \
    && chown helpdesk:helpdesk /data

WORKDIR /app
COPY . .
COPY --from=assets /app/node_modules ./node_modules
# Editable, so settings.BASE_DIR is /app, where the templates, static files and translations are.
RUN pip install -e . \
    && SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && if SECRET_KEY=build-only python -c "import sys, django; django.setup(); \
           from django.core.management import get_commands; \
           sys.exit(0 if 'compile_catalogs' in get_commands() else 1)"; then \
           SECRET_KEY=build-only python manage.py compile_catalogs; \
       fi

USER helpdesk
EXPOSE 8000
# docker-compose.yml runs this image as front (the front door), web (gunicorn), ws (uvicorn), worker
# and beat; on its own it serves plain HTTP.
CMD ["gunicorn", "helpdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
