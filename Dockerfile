# One image for every role (worker, api, scheduler); the command picks the role.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY rules_engine rules_engine
COPY entitlements entitlements
COPY notifiers notifiers
COPY beforeservice beforeservice
RUN pip install --no-cache-dir . && useradd --system --uid 10001 beforeservice
USER beforeservice
ENTRYPOINT ["beforeservice"]
