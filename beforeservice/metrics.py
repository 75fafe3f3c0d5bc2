"""Prometheus metrics of the pipeline (worker) and the API."""

from prometheus_client import Counter

EVENTS_CONSUMED = Counter("beforeservice_events_consumed", "Life events read from Kafka")
EVENTS_PROCESSED = Counter("beforeservice_events_processed", "Life events matched against the catalog")
EVENTS_DUPLICATE = Counter("beforeservice_events_duplicate", "Redelivered or replayed events skipped")
EVENTS_DEAD_LETTERED = Counter("beforeservice_events_dead_lettered", "Events sent to the dead-letter topic")
ENTITLEMENTS_MATCHED = Counter("beforeservice_entitlements_matched", "Offers matched (eligible)")
ENTITLEMENTS_UNDETERMINED = Counter("beforeservice_entitlements_undetermined", "Matches sent to review")
NOTIFICATIONS_QUEUED = Counter("beforeservice_notifications_queued", "Notifications written to the outbox")
NOTIFICATIONS_PUSHED = Counter("beforeservice_notifications_pushed", "Notifications accepted by FCM")
NOTIFICATIONS_INBOX_ONLY = Counter("beforeservice_notifications_inbox_only", "Notifications left in the inbox only")
BATCH_RETRIES = Counter("beforeservice_batch_retries", "Batches retried after a failure (e.g. database down)")
API_EVENTS_ACCEPTED = Counter("beforeservice_api_events_accepted", "Events accepted over HTTP")
API_EVENTS_REFUSED = Counter("beforeservice_api_events_refused", "Events refused over HTTP", ["status"])
