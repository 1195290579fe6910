"""The persisted decision trace of one cycle (seed ``stage7_cycle_trace``).

:func:`build_trace` assembles it from the JSON payloads the earlier stages stored, so the
trace says exactly what was decided, with the seeds' column names: selected universe and
scores, intents summary, mode payload (base / override / final), per-order decisions with
reasons, the portfolio plan, the intents, ``rules_stats``, the active parameters and the
ledger metrics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from btcbot_pipeline.domain.payloads import dumps

TOP_SCORES = 10  # the trace keeps the ten best-scored candidates with their breakdown


@dataclass(frozen=True, slots=True)
class CycleTrace:
    cycle_id: str
    cycle_ts: str
    base_mode: str
    final_mode: str
    selected_universe_json: str
    universe_scores_json: str
    intents_summary_json: str
    mode_json: str
    order_decisions_json: str
    portfolio_plan_json: str
    order_intents_json: str
    rules_stats_json: str
    active_params_json: str
    ledger_metrics_json: str
    market_notes_json: str


def intents_summary(intents: Sequence[dict[str, Any]], fills: Sequence[dict[str, Any]]) -> dict[str, Any]:
    planned = [i for i in intents if i["status"] == "PLANNED"]
    skipped = [i for i in intents if i["status"] == "SKIPPED"]
    return {
        "planned": len(planned),
        "skipped": len(skipped),
        "skip_reasons": dict(sorted(Counter(i["skip_reason"] for i in skipped).items())),
        "filled": len(fills),
        "planned_notional_try": str(sum((_dec(i["notional_try"]) for i in planned), Decimal(0))),
    }


def _dec(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


def build_trace(
    *,
    market: dict[str, Any],
    universe: dict[str, Any],
    plan: dict[str, Any],
    intents: Sequence[dict[str, Any]],
    fills: Sequence[dict[str, Any]],
    ledger: dict[str, Any],
    active_params: dict[str, Any],
    orders: Sequence[dict[str, Any]] = (),
) -> CycleTrace:
    """Assemble the trace row of one cycle from its stages' payloads.

    ``market`` is ``{"skipped": [{"symbol", "reason"}...], "notes": [...]}``; every SKIPPED
    plan action and intent carries its reason into ``order_decisions``. ``orders``: the
    simulated OMS's orders this cycle touched (their status after it): an intent shows
    its order's status and reason (resting ``ACKED``, ``REJECTED``, throttled ``PLANNED``,
    ...), and an order placed earlier that this cycle filled, cancelled or expired is a
    decision of stage ``order``.
    """
    decisions: list[dict[str, Any]] = []
    for action in plan["actions"]:
        decisions.append(
            {
                "stage": "plan",
                "symbol": action["symbol"],
                "side": action["side"],
                "status": action["status"],
                "reason": action["skip_reason"] or action["reason"],
                "notional_try": action["notional_try"],
            }
        )
    filled = {f["client_order_id"] for f in fills}
    by_id = {o["client_order_id"]: o for o in orders}
    for intent in intents:
        order = by_id.get(intent["client_order_id"])
        if intent["status"] == "SKIPPED":
            status, reason = "SKIPPED", intent["skip_reason"]
        elif order is not None:
            status, reason = order["status"], order["reason"] or intent["reason"]
        elif intent["client_order_id"] in filled:
            status, reason = "FILLED", intent["reason"]
        else:
            status, reason = "NOT_SIMULATED", plan["mode"]["final_mode"].lower()
        decisions.append(
            {
                "stage": "intent",
                "symbol": intent["symbol"],
                "side": intent["side"],
                "status": status,
                "reason": reason,
                "client_order_id": intent["client_order_id"],
                "notional_try": intent["notional_try"],
            }
        )
    for order in orders:
        if order["placed_cycle_id"] != plan["cycle_id"]:
            decisions.append(
                {
                    "stage": "order",
                    "symbol": order["symbol"],
                    "side": order["side"],
                    "status": order["status"],
                    "reason": order["reason"] or f"placed {order['placed_cycle_id']}",
                    "client_order_id": order["client_order_id"],
                    "notional_try": order["filled_notional_try"],
                }
            )
    return CycleTrace(
        cycle_id=plan["cycle_id"],
        cycle_ts=plan["cycle_ts"],
        base_mode=plan["mode"]["base_mode"],
        final_mode=plan["mode"]["final_mode"],
        selected_universe_json=dumps(universe["selected"]),
        universe_scores_json=dumps({"ranked": universe["ranked"][:TOP_SCORES], "rejected": universe["rejected"]}),
        intents_summary_json=dumps(intents_summary(intents, fills)),
        mode_json=dumps(plan["mode"]),
        order_decisions_json=dumps(decisions),
        portfolio_plan_json=dumps({k: v for k, v in plan.items() if k not in ("mode", "rules_stats")}),
        order_intents_json=dumps(list(intents)),
        rules_stats_json=dumps(plan["rules_stats"]),
        active_params_json=dumps(active_params),
        ledger_metrics_json=dumps(ledger),
        market_notes_json=dumps(market),
    )
