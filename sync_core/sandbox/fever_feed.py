"""A deterministic Fever-style events feed (contracts/fever.md), generated and streamed in bounded chunks.

Base plan number `b` (0-based, in feed order) plays a role by `b % 10`, so every feed of at least
`MIN_BASE_PLANS` base plans carries every quirk of the real feed at known positions:

- 0: no `organizer_company_id`;
- 1: plan 0 reuses the `plan_id` of base plan `b - 1`'s plan 0 (same plan_id, two online base plans);
- 2: in plan 0, zone 1 repeats zone 0's `zone_id` (other capacity, price and `numbered`);
- 3: `sell_mode="offline"`, and its plan 0 has an invalid date (ignored, not quarantined: offline);
- 4: plan 0 has an invalid calendar date (`YYYY-MM-31` in a 30-day month): quarantined;
- 5: plan 0 changes with the fetch number n: with k = (n - 1) % 8, every zone price +0.50 * k,
  capacity + k and the end time + 15 min * k (fetch 1 is the base value);
- 6-9: ordinary; online with probability `online_fraction` (seeded).

Everything else derives from `FeverFeedConfig.seed`. `base_plan_specs` is the one source of values:
`feed_chunks` renders it as XML; `fever_oracle.expected_events` applies the contract's rules to it, no XML.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

MIN_BASE_PLANS = 6
QUIRK_PERIOD = 10
CHANGE_CYCLE = 8
CHUNK_BYTES = 64 * 1024
FIRST_BASE_PLAN_ID = 1000
FIRST_PLAN_ID = 100_000
# The first six land in every feed (base plan b gets TITLES[b % len]): escaping is always exercised.
TITLES = (
    "Concierto de Año Nuevo & más",
    'Noche de "Tablao" <flamenco>',
    "Camela en concierto",
    "L'Orchestre de Saint-Étienne & Friends",
    "Los Morancos",
    "Tributo a Juanito Valderrama",
    "Zoë's Jazz Café — sesión <vermut>",
    "Ñandú: el musical",
    "Rock & Roll Circus",
    "Cine de verano: «Casablanca»",
    "Stand-up: 1 < 2 > 0",
    'Ópera "La Traviata" en el Liceu',
)
ZONE_NAMES = ("Platea", "Grada 2", "A28", "Amfiteatre", "Palco", "Pista", "Anfiteatro Ñ", "Zona VIP")
_HEADER = (
    '<planList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0" '
    'xsi:noNamespaceSchemaLocation="planList.xsd">\n    <output>\n'
)
_FOOTER = "    </output>\n</planList>\n"
_START = datetime(2021, 1, 1)
_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_SHORT_MONTHS = (4, 6, 9, 11)


@dataclass(frozen=True)
class FeverFeedConfig:
    """Size and seed of a generated feed; raises ValueError when it could not carry every quirk."""

    base_plans: int
    plans_per_base: int
    zones_per_plan: int
    seed: int
    online_fraction: float = 0.9  # share of the ordinary base plans (roles 6-9) that are online
    chunk_bytes: int = CHUNK_BYTES  # feed_chunks yields once this many characters are buffered

    def __post_init__(self) -> None:
        if self.base_plans < MIN_BASE_PLANS:
            raise ValueError(f"a Fever feed needs at least {MIN_BASE_PLANS} base plans (one per quirk)")
        if self.plans_per_base < 1 or self.zones_per_plan < 2:
            raise ValueError("plans_per_base must be >= 1 and zones_per_plan >= 2 (duplicate zone_id quirk)")
        if not 0 <= self.online_fraction <= 1:
            raise ValueError("online_fraction must be within [0, 1]")
        if self.chunk_bytes < 1:
            raise ValueError("chunk_bytes must be >= 1")

    @property
    def plans(self) -> int:
        """How many plans the feed lists."""
        return self.base_plans * self.plans_per_base


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One `<zone>`; the price in cents."""

    zone_id: str
    capacity: int
    price_cents: int
    name: str
    numbered: bool


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """One `<plan>`; datetimes as the feed writes them, which may be invalid calendar dates."""

    plan_id: str
    start: str
    end: str
    sell_from: str
    sell_to: str
    sold_out: bool
    zones: tuple[ZoneSpec, ...]


@dataclass(frozen=True, slots=True)
class BasePlanSpec:
    """One `<base_plan>` and its plans."""

    base_plan_id: str
    sell_mode: str
    title: str
    organizer_company_id: str | None
    plans: tuple[PlanSpec, ...]


@dataclass(frozen=True)
class FeverQuirks:
    """Where a feed carries each quirk (ids as strings; event keys are (base_plan_id, plan_id))."""

    shared_plan_ids: tuple[tuple[str, str, str], ...]  # (plan_id, first base_plan_id, second base_plan_id)
    duplicate_zones: tuple[tuple[str, str, str], ...]  # (base_plan_id, plan_id, repeated zone_id)
    invalid_dates: frozenset[tuple[str, str]]  # online: quarantined
    ignored_invalid_dates: frozenset[tuple[str, str]]  # under offline base plans: ignored with them
    offline_base_plans: frozenset[str]  # the guaranteed ones; ordinary base plans may be offline too
    no_organizer_base_plans: frozenset[str]
    changing_plans: frozenset[tuple[str, str]]


def base_plan_id(b: int) -> str:
    """The `base_plan_id` of base plan number b."""
    return str(FIRST_BASE_PLAN_ID + b)


def plan_id(config: FeverFeedConfig, b: int, p: int) -> str:
    """The `plan_id` of plan p of base plan b (role-1 base plans reuse their predecessor's plan 0 id)."""
    if p == 0 and b % QUIRK_PERIOD == 1:
        b -= 1
    return str(FIRST_PLAN_ID + b * config.plans_per_base + p)


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """An integer in [lo, hi); cheaper than randrange, which shows at 50,000 plans."""
    return lo + int(rng.random() * (hi - lo))


def _invalid_dates(rng: random.Random) -> tuple[str, str, str, str]:
    day = f"{2021 + _between(rng, 0, 3)}-{_SHORT_MONTHS[_between(rng, 0, 4)]:02d}-31"
    return f"{day}T20:00:00", f"{day}T21:00:00", f"{day[:8]}01T00:00:00", f"{day}T19:50:00"


def _plan(config: FeverFeedConfig, b: int, p: int, rng: random.Random, shift: int) -> PlanSpec:
    role = b % QUIRK_PERIOD
    day = _START + _DAY * _between(rng, 0, 1095)
    start = day + _MINUTE * (60 * _between(rng, 17, 23) + 30 * _between(rng, 0, 2))
    end = start + _MINUTE * (10 * _between(rng, 6, 19))
    sell_from = day - _DAY * _between(rng, 30, 240)
    sold_out = rng.random() < 0.1
    first_zone = _between(rng, 1, 500)
    zones = []
    for z in range(config.zones_per_plan):
        capacity, price, numbered = _between(rng, 0, 300), 50 * _between(rng, 10, 200), rng.random() < 0.5
        name = ZONE_NAMES[(first_zone + z) % len(ZONE_NAMES)]
        zones.append(ZoneSpec(str(first_zone + z), capacity, price, name, numbered))
    if role == 2 and p == 0:  # like the sample's zone 186: same id and name, other values
        zone = zones[0]
        price = zone.price_cents + (1000 if zone.price_cents <= 1000 else -1000)
        zones[1] = ZoneSpec(zone.zone_id, (zone.capacity + 14) % 300, price, zone.name, not zone.numbered)
    if role == 5 and p == 0:
        end += _MINUTE * (15 * shift)
        zones = [
            ZoneSpec(z.zone_id, z.capacity + shift, z.price_cents + 50 * shift, z.name, z.numbered)
            for z in zones
        ]
    start_text, end_text, sell_from_text, sell_to_text = (
        d.isoformat() for d in (start, end, sell_from, start - 10 * _MINUTE)
    )
    if role in (3, 4) and p == 0:
        start_text, end_text, sell_from_text, sell_to_text = _invalid_dates(rng)
    return PlanSpec(
        plan_id(config, b, p), start_text, end_text, sell_from_text, sell_to_text, sold_out, tuple(zones)
    )


def base_plan_spec(config: FeverFeedConfig, b: int, fetch_number: int) -> BasePlanSpec:
    """Base plan number b as fetch `fetch_number` (1, 2, ...) lists it; raises ValueError for fetch < 1."""
    if fetch_number < 1:
        raise ValueError("fetch_number starts at 1")
    rng = random.Random(config.seed * 1_000_003 + b)
    role = b % QUIRK_PERIOD
    online_roll, organizer = rng.random(), str(_between(rng, 1, 20))
    offline = role == 3 or (role >= 6 and online_roll >= config.online_fraction)
    shift = (fetch_number - 1) % CHANGE_CYCLE
    return BasePlanSpec(
        base_plan_id=base_plan_id(b),
        sell_mode="offline" if offline else "online",
        title=TITLES[b % len(TITLES)],
        organizer_company_id=None if role == 0 else organizer,
        plans=tuple(_plan(config, b, p, rng, shift) for p in range(config.plans_per_base)),
    )


def base_plan_specs(config: FeverFeedConfig, fetch_number: int) -> Iterator[BasePlanSpec]:
    """Every base plan of fetch `fetch_number`, in feed order, one at a time."""
    for b in range(config.base_plans):
        yield base_plan_spec(config, b, fetch_number)


def quirks(config: FeverFeedConfig) -> FeverQuirks:
    """The positions of the guaranteed quirks (they do not depend on the fetch number)."""
    roles: dict[int, list[int]] = {r: list(range(r, config.base_plans, QUIRK_PERIOD)) for r in range(6)}

    def first_plans(role: int) -> frozenset[tuple[str, str]]:
        return frozenset((base_plan_id(b), plan_id(config, b, 0)) for b in roles[role])

    duplicates = []
    for b in roles[2]:
        zones = base_plan_spec(config, b, 1).plans[0].zones
        duplicates.append((base_plan_id(b), plan_id(config, b, 0), zones[1].zone_id))
    return FeverQuirks(
        shared_plan_ids=tuple(
            (plan_id(config, b, 0), base_plan_id(b - 1), base_plan_id(b)) for b in roles[1]
        ),
        duplicate_zones=tuple(duplicates),
        invalid_dates=first_plans(4),
        ignored_invalid_dates=first_plans(3),
        offline_base_plans=frozenset(base_plan_id(b) for b in roles[3]),
        no_organizer_base_plans=frozenset(base_plan_id(b) for b in roles[0]),
        changing_plans=first_plans(5),
    )


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def render_base_plan(spec: BasePlanSpec) -> str:
    """One `<base_plan>` element as the feed writes it (indented like the real sample)."""
    organizer = (
        "" if spec.organizer_company_id is None else f' organizer_company_id="{spec.organizer_company_id}"'
    )
    parts = [
        f'        <base_plan base_plan_id="{spec.base_plan_id}" sell_mode="{spec.sell_mode}"{organizer}'
        f' title="{_attr(spec.title)}">\n'
    ]
    for plan in spec.plans:
        parts.append(
            f'            <plan plan_start_date="{plan.start}" plan_end_date="{plan.end}"'
            f' plan_id="{plan.plan_id}" sell_from="{plan.sell_from}" sell_to="{plan.sell_to}"'
            f' sold_out="{str(plan.sold_out).lower()}">\n'
        )
        for zone in plan.zones:
            cents = zone.price_cents
            parts.append(
                f'                <zone zone_id="{zone.zone_id}" capacity="{zone.capacity}"'
                f' price="{cents // 100}.{cents % 100:02d}" name="{_attr(zone.name)}"'
                f' numbered="{str(zone.numbered).lower()}"/>\n'
            )
        parts.append("            </plan>\n")
    parts.append("        </base_plan>\n\n")
    return "".join(parts)


def feed_chunks(config: FeverFeedConfig, fetch_number: int) -> Iterator[bytes]:
    """The whole feed of fetch `fetch_number` as UTF-8 chunks of about `config.chunk_bytes` each.

    Never holds more than one chunk plus one base plan; raises ValueError for fetch_number < 1.
    """
    if fetch_number < 1:
        raise ValueError("fetch_number starts at 1")
    parts, size = [_HEADER], len(_HEADER)
    for spec in base_plan_specs(config, fetch_number):
        text = render_base_plan(spec)
        parts.append(text)
        size += len(text)
        if size >= config.chunk_bytes:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append(_FOOTER)
    yield "".join(parts).encode()
