# buddycheck: one process, configured by a TOML file mounted at /config/config.toml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY checkins ./checkins
COPY storage ./storage
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --home /app buddycheck \
    && mkdir -p /app/data && chown buddycheck /app/data
USER buddycheck
ENTRYPOINT ["buddycheck"]
CMD ["run", "--config", "/config/config.toml"]
