"""The Ploomes pipeline's command line: the options of `catalog-sync sync ploomes`, and `catalog-sync ploomes
webhook register --url URL` (Ploomes then POSTs product changes to `catalog-sync serve`)."""

from __future__ import annotations

import argparse
from typing import Any

from sync_core.errors import ConfigError

ENTITY = "Product"


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.replace(" ", "").split(","):
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"must be Ploomes product ids such as 1,2,3, not {text!r}")
        ids.append(int(part))
    return ids


def sync_options(parser: argparse.ArgumentParser) -> None:
    """`sync ploomes`'s own options (``--strategy`` is every pipeline's)."""
    parser.add_argument(
        "--ids",
        type=_ids,
        metavar="1,2,3",
        help="sync these products now (real-time: at most 10; auto picks real-time when given)",
    )
    parser.add_argument(
        "--category", metavar="NAME", help="sync the products of this Ploomes group (category) only"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and compare; write nothing")


def flow_params(args: argparse.Namespace) -> dict[str, Any]:
    """The sync-ploomes flow's parameters from `sync ploomes`'s options."""
    params: dict[str, Any] = {"ids": args.ids, "category": args.category, "dry_run": args.dry_run or None}
    return {name: value for name, value in params.items() if value is not None}


def cmd_register(args: argparse.Namespace) -> int:
    """POST /Webhooks: one registration per action (Create, Update, Delete) of products, with the callback
    URL and PLOOMES_WEBHOOK_KEY as its validation key."""
    from sync_core.connectors.ploomes import PloomesCatalog
    from sync_core.settings import load_settings

    settings = load_settings()
    if settings.ploomes_webhook_key is None:
        raise ConfigError("PLOOMES_WEBHOOK_KEY is not set: it is the key Ploomes sends with each delivery")
    if not args.url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must be the http(s) address of POST /webhooks/ploomes, not {args.url!r}")
    key = settings.ploomes_webhook_key.get_secret_value()
    with PloomesCatalog(settings) as ploomes:
        actions = {
            str(a.get("Name", "")).casefold(): int(a["Id"])
            for a in ploomes.webhook_actions()
            if isinstance(a.get("Id"), int)
        }
        wanted = [name for name in ("create", "update", "delete") if name in actions]
        if not wanted:
            raise ConfigError(
                "Ploomes lists no Create, Update or Delete webhook action (GET /Webhooks@Actions)"
            )
        entity = int(args.entity_id)
        for name in wanted:
            ploomes.register_webhook(
                callback_url=args.url, validation_key=key, entity_id=entity, action_id=actions[name]
            )
    print(f"registered {args.url} for product {', '.join(wanted)} deliveries")
    return 0


def add_commands(sub: Any) -> None:
    """`catalog-sync ploomes webhook register --url URL`."""
    ploomes = sub.add_parser("ploomes", help="Ploomes CRM: register the product webhooks")
    groups = ploomes.add_subparsers(dest="ploomes_group", metavar="GROUP", required=True)
    webhook = groups.add_parser("webhook", help="Ploomes webhooks")
    actions = webhook.add_subparsers(dest="ploomes_action", metavar="ACTION", required=True)
    register = actions.add_parser(
        "register",
        help="register URL (POST /webhooks/ploomes of `catalog-sync serve`) for product changes",
        description="Registers the callback with Ploomes (POST /Webhooks) for the Create, Update and Delete "
        "actions of products, with PLOOMES_WEBHOOK_KEY as the validation key each delivery carries.",
    )
    register.add_argument("--url", required=True, help="the public address of POST /webhooks/ploomes")
    register.add_argument(
        "--entity-id", default="1", help="Ploomes' entity id of products (default 1; see its API docs)"
    )
    register.set_defaults(handler=cmd_register)
