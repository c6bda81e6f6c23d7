"""Demo handlers for the example workflows (data-pipeline.yaml, order-processing.yaml,
refund-approval.yaml, batch-records.yaml with enrich-record.yaml).

Run them with ``dagq run examples/data-pipeline.yaml --handlers examples/handlers.py --wait``
or serve them with ``dagq worker --handlers examples/handlers.py``.

Run parameters steer the demo:
  quality   transformData's quality score (default 0.97; below 0.95 goes to the backup store)
  records   how many records fetchData pretends to fetch (default 100)
  fail_at   "charge_payment" or "ship_order" makes that step fail (the saga then compensates)
  delay_s   every handler waits this long first, to watch a run progress
  customer, amount   the refund of refund-approval.yaml
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from orchestrator import HandlerContext, handler


def _ref(prefix: str, ctx: HandlerContext) -> str:
    """A readable id that ties an object to its run."""
    return f"{prefix}-{ctx.run_id[-8:]}"


def _delay(ctx: HandlerContext) -> float:
    try:
        return max(0.0, float(ctx.params.get("delay_s", 0) or 0))
    except (TypeError, ValueError):
        return 0.0


def _pause(ctx: HandlerContext) -> None:
    delay = _delay(ctx)
    if delay:
        time.sleep(delay)


# -- Example 1: data processing pipeline -------------------------------------------


@handler("fetchData")
async def fetch_data(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Pretend to fetch a batch of records (async, to show both handler kinds)."""
    delay = _delay(ctx)
    if delay:
        await asyncio.sleep(delay)
    count = int(ctx.params.get("records", 100))
    ctx.logger.info("fetched %d records from the demo source", count)
    return {"batch_id": _ref("batch", ctx), "record_count": count, "source": "demo"}


@handler("validateData")
def validate_data(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Drop the records that fail validation (every 20th, for the demo)."""
    _pause(ctx)
    count = int(input.get("record_count", 0))
    invalid = count // 20
    return {"valid_count": count - invalid, "invalid_count": invalid}


@handler("transformData")
def transform_data(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Transform the valid records and score the result's quality."""
    _pause(ctx)
    quality = float(ctx.params.get("quality", 0.97))
    return {"transformed_count": int(input.get("valid_count", 0)), "quality": quality}


@handler("storePrimary")
def store_primary(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Store a high-quality batch in the primary store."""
    _pause(ctx)
    batch = input.get("batch_id", _ref("batch", ctx))
    return {
        "store": "primary",
        "location": f"primary://{batch}",
        "stored_count": int(input.get("transformed_count", 0)),
    }


@handler("storeBackup")
def store_backup(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Store a low-quality batch in the backup store for review."""
    _pause(ctx)
    batch = input.get("batch_id", _ref("batch", ctx))
    ctx.logger.info("quality below the bar: %s goes to the backup store for review", batch)
    return {
        "store": "backup",
        "location": f"backup://{batch}",
        "stored_count": int(input.get("transformed_count", 0)),
    }


@handler("sendNotification")
def send_notification(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Say where the batch went."""
    _pause(ctx)
    message = (
        f"{input.get('stored_count', 0)} records stored in "
        f"{input.get('store', 'unknown')} at {input.get('location', '?')}"
    )
    ctx.logger.info(message)
    return {"notified": True, "message": message}


# -- Example 2: order processing saga ----------------------------------------------


class DemoFailure(RuntimeError):
    """The failure a run asked for with ``fail_at``."""


def _maybe_fail(ctx: HandlerContext, step: str, why: str) -> None:
    if ctx.params.get("fail_at") == step:
        raise DemoFailure(f"{why} (fail_at={step})")


@handler("reserveInventory")
def reserve_inventory(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Reserve the order's items."""
    _pause(ctx)
    _maybe_fail(ctx, "reserve_inventory", "items out of stock")
    return {"reservation_id": _ref("res", ctx), "items": int(ctx.params.get("items", 3))}


@handler("chargePayment")
def charge_payment(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Charge the customer."""
    _pause(ctx)
    amount = float(ctx.params.get("amount", 42.0))
    ctx.logger.info("charging %.2f, idempotency key %s", amount, ctx.idempotency_key)
    _maybe_fail(ctx, "charge_payment", "payment declined")
    return {"payment_id": _ref("pay", ctx), "amount": amount}


@handler("shipOrder")
def ship_order(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Hand the parcel to the carrier."""
    _pause(ctx)
    _maybe_fail(ctx, "ship_order", "carrier unavailable")
    return {"shipment_id": _ref("ship", ctx), "tracking": f"TRK{ctx.run_id[-6:].upper()}"}


@handler("releaseInventory")
def release_inventory(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Compensation of reserveInventory: release the reservation."""
    _pause(ctx)
    return {"released": input.get("reservation_id", _ref("res", ctx))}


@handler("refundPayment")
def refund_payment(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Compensation of chargePayment: refund the charge."""
    _pause(ctx)
    return {
        "refunded": input.get("payment_id", _ref("pay", ctx)),
        "amount": input.get("amount", ctx.params.get("amount", 42.0)),
    }


@handler("cancelShipment")
def cancel_shipment(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Compensation of shipOrder: cancel the shipment."""
    _pause(ctx)
    return {"cancelled": input.get("shipment_id", _ref("ship", ctx))}


# -- Example 3: batch records (a map node, an inclusive gateway) -------------------------


@handler("loadRecords")
def load_records(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """``count`` records; with ``bad_every`` n, every n-th one is marked bad."""
    _pause(ctx)
    count = int(ctx.params.get("count", 20))
    bad_every = int(ctx.params.get("bad_every", 0) or 0)
    return {
        "records": [
            {"id": i, "bad": bool(bad_every) and (i + 1) % bad_every == 0} for i in range(count)
        ]
    }


@handler("checkRecord")
def check_record(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """enrich-record's first step: the run's ``record`` parameter; a bad one fails."""
    _pause(ctx)
    record = ctx.params["record"]
    if record.get("bad"):
        raise ValueError(f"record {record['id']} is malformed")
    return {"id": record["id"]}


@handler("scoreRecord")
def score_record(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """enrich-record's second step: a score for the checked record."""
    return {"id": input["id"], "score": (input["id"] * 37) % 100}


@handler("summarizeBatch")
def summarize_batch(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Counts the map's results (a failed record's result is null; each other one is the
    enrich-record run's output and its ``run_id``)."""
    results = [r for r in input.get("results", []) if r is not None]
    return {
        "processed": len(results),
        "failed": len(input.get("failed", [])),
        "best": max((r["score"] for r in results), default=None),
    }


@handler("archiveBatch")
def archive_batch(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Stores the processed records (the demo only names the archive)."""
    _pause(ctx)
    return {"archive": _ref("batch", ctx)}


@handler("alertOperators")
def alert_operators(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Tells someone that records failed."""
    _pause(ctx)
    return {"alerted": f"{input.get('failed', 0)} record(s) failed"}


# -- Example 4: a refund that waits for a manager and for the bank ---------------------


@handler("checkRefund")
def check_refund(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Score the refund's risk: the approvers read it in the approval's message."""
    _pause(ctx)
    amount = float(ctx.params.get("amount", 0) or 0)
    return {"risk": "high" if amount >= 500 else "low", "amount": amount}


@handler("issueRefund")
def issue_refund(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Ask the (pretend) bank to pay the refund; it confirms with the signal refund_settled."""
    _pause(ctx)
    approvers = [d["by"] for d in input.get("decisions", []) if d.get("approved")]
    ctx.logger.info("refund approved by %s", ", ".join(approvers) or "the timeout")
    return {"refund_id": _ref("refund", ctx), "approved_by": approvers}


@handler("notifyCustomer")
def notify_customer(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Tell the customer the money is on its way (the bank's payload says when)."""
    _pause(ctx)
    return {"notified": ctx.params.get("customer"), "settled_at": input.get("settled_at")}


@handler("declineRefund")
def decline_refund(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Tell the customer no, with the approver's reason."""
    _pause(ctx)
    reasons = [d.get("comment") or "" for d in input.get("decisions", []) if not d.get("approved")]
    return {"declined": ctx.params.get("customer"), "reason": "; ".join(reasons) or "timed out"}
