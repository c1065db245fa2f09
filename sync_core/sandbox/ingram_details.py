"""The product details answer of the simulated Ingram catalogue (`GET /resellers/v6/catalog/details/{part}`).

Built from the part's record and a generator of its own, so details are the same on every call; they never
change between runs (changes touch price and stock only). Shaped like the vendor's details sample:
`productDetailDescription` present, null or absent; `productAuthorized` a string ("True"); dimensions as
strings and weights as numbers in `additionalInformation`.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync_core.sandbox.ingram_catalogue import IngramPart

_CATEGORIES = (
    ("Computers", "Notebooks & Tablets"),
    ("Displays", "Monitors"),
    ("Networking", "Switches"),
    ("Accessories", "Cables"),
    ("Power Protection", "UPS"),
    ("Peripherals", "Keyboards & Mice"),
)
_SPECS = (
    ("Basic", "Product Type", ("Notebook", "Monitor", "Switch", "Cable", "UPS")),
    ("Basic", "Brand Name", ("Lenovo", "Dell", "Cisco", "HP")),
    ("Physical Characteristics", "Weight (Approximate)", ("1.70 kg", "450 g", "3.2 kg")),
    ("Physical Characteristics", "Product Color", ("Mineral Gray", "Black", "White")),
    ("Miscellaneous", "Environmental Certification", ("RoHS", "ENERGY STAR 8.0", "EPEAT Silver")),
    ("Power Description", "Maximum Power Supply Wattage", ("65 W", "90 W", "1500 VA")),
    ("Miscellaneous", "Package Contents", ("<li>Device</li> <li>AC Adapter</li>", "<li>Cable</li>")),
)


def _spec(rng: random.Random, index: int) -> dict[str, str]:
    header, name, values = _SPECS[index]
    value = values[int(rng.random() * len(values))]
    return {
        "headername": header,
        "attributevalue": value,
        "attributedisplay": f"{header}|{name}|{value}",
        "attributename": name,
    }


def _additional_information(rng: random.Random) -> dict[str, Any]:
    weight = round(0.2 + rng.random() * 12, 1)
    info: dict[str, Any] = {
        "productWeight": [{"plantId": "NL01", "weight": weight, "weightUnit": "KG"}],
        "isBulkFreight": rng.random() < 0.05,
        "height": str(1 + int(rng.random() * 60)),
        "width": str(1 + int(rng.random() * 80)),
        "length": str(1 + int(rng.random() * 90)),
        "netWeight": None if rng.random() < 0.6 else round(weight * 0.8, 2),
        "dimensionUnit": "CM",
    }
    if rng.random() < 0.3:  # a second plant, weight as a whole number
        info["productWeight"].append({"plantId": "US02", "weight": int(weight) + 1, "weightUnit": "LB"})
    return info


def details_json(seed: int, record: IngramPart) -> dict[str, Any]:
    """The details answer of `record`'s part (same answer on every call)."""
    rng = random.Random((seed << 40) | (1 << 39) | record.index)
    category, subcategory = _CATEGORIES[int(rng.random() * len(_CATEGORIES))]
    body: dict[str, Any] = {
        "ingramPartNumber": record.part,
        "vendorPartNumber": record.vendor_part_number,
        "productAuthorized": str(record.authorized),
        "description": record.description,
    }
    roll = rng.random()
    if roll < 0.7:
        body["productDetailDescription"] = (
            f"{record.vendor_name.title()} {record.description} - {subcategory}"
        )
    elif roll < 0.85:
        body["productDetailDescription"] = None
    chosen = sorted(range(len(_SPECS)), key=lambda _: rng.random())[: int(rng.random() * 6)]
    body |= {
        "upc": record.upc,
        "productCategory": category,
        "productSubcategory": subcategory,
        "vendorName": record.vendor_name,
        "vendorNumber": record.vendor_number,
        "productStatusCode": None,
        "productClass": None,
        "indicators": {
            "hasWarranty": rng.random() < 0.8,
            "isNewProduct": rng.random() < 0.1,
            "isDiscontinuedProduct": rng.random() < 0.05,
            "isDirectship": False,
            "skuType": "M",
        },
        "ciscoFields": {"productSubGroup": None, "serviceProgramName": None, "globalListPrice": None},
        "technicalSpecifications": [_spec(rng, i) for i in sorted(chosen)],
        "warrantyInformation": [],
        "additionalInformation": _additional_information(rng),
    }
    return body
