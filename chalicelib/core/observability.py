"""The powertools Logger and Metrics shared by every handler.

The Logger's service name differs from chalice's app_name on purpose: when they match,
chalice's own log handler and powertools' both print every line.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "feedforward-core")


class _Metrics(Metrics):
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        super().flush_metrics(raise_on_empty_metrics)
        # With POWERTOOLS_METRICS_DISABLED (locally, in tests) powertools keeps them instead,
        # then prints them all once one metric has 100 values.
        self.clear_metrics()


logger = Logger(service=SERVICE)
metrics = _Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "FeedForward"), service=SERVICE)

# A request that records no metric is normal; powertools would warn on every one.
warnings.filterwarnings("ignore", message="No application metrics to publish")
