"""The shared inbound-webhook pipeline: verify, record once, dispatch, retry."""
