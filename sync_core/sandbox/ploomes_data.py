"""The fixed data of the simulated Ploomes catalogue: groups, families, product kinds and custom fields.

A machinery dealer (compressors, tools, services, rentals and parts), in Portuguese with accents.
"""

from __future__ import annotations

SLOTS = ("StringValue", "IntegerValue", "DecimalValue", "DateTimeValue", "BooleanValue", "ObjectValue")
GROUPS: tuple[tuple[int, str], ...] = (
    (400101, "Atlas"),
    (400102, "Ingersoll"),
    (400103, "Serviços"),
    (400104, "Locação"),
    (400105, "Peças"),
    (400106, "Diversos"),  # no families
)
FAMILIES: tuple[tuple[int, str, int], ...] = (
    (510201, "Compressores Parafuso", 400101),
    (510202, "Compressores Pistão", 400101),
    (510203, "Secadores de Ar", 400101),
    (510204, "Geradores", 400101),
    (510205, "Compressores Parafuso", 400102),  # the same name under another group
    (510206, "Ferramentas Pneumáticas", 400102),
    (510207, "Manutenção Preventiva", 400103),
    (510208, "Manutenção Corretiva", 400103),
    (510209, "Instalação", 400103),
    (510210, "Locação de Compressores", 400104),
    (510211, "Locação de Ferramentas", 400104),
    (510212, "Filtros", 400105),
    (510213, "Óleos e Lubrificantes", 400105),
    (510214, "Kits de Manutenção", 400105),
)
# kind: (group id, [(family id, name template, code prefix, unit, (min, max) price in BRL)])
KINDS: dict[str, tuple[int, list[tuple[int | None, str, str, str, tuple[int, int]]]]] = {
    "atlas": (
        400101,
        [
            (510201, "Compressor de Ar Atlas Copco GA {n}", "ATL-GA", "Unidade", (38_000, 350_000)),
            (510201, "Compressor Atlas Copco GA {n} VSD+", "ATL-VSD", "Unidade", (60_000, 420_000)),
            (510202, "Compressor de Pistão Atlas Copco LE {n}", "ATL-LE", "Unidade", (9_000, 40_000)),
            (510203, "Secador por Refrigeração Atlas Copco FX {n}", "ATL-FX", "Unidade", (6_000, 30_000)),
            (510204, "Gerador Atlas Copco QAS {n}", "ATL-QAS", "Unidade", (80_000, 300_000)),
        ],
    ),
    "ingersoll": (
        400102,
        [
            (510205, "Compressor Ingersoll Rand R{n}n", "ING-R", "Unidade", (45_000, 380_000)),
            (510206, "Chave de Impacto Pneumática Ingersoll {n}", "ING-CI", "Peça", (1_200, 9_000)),
            (510206, "Lixadeira Pneumática Ingersoll 3{n}", "ING-LX", "Peça", (800, 4_000)),
        ],
    ),
    "service": (
        400103,
        [
            (510207, "Manutenção preventiva - compressor até {n} HP", "CIA_MANUT_PREV_", "Hora", (150, 480)),
            (510208, "Manutenção corretiva em secador de ar nº {n}", "CIA_MANUT_CORR_", "Hora", (180, 520)),
            (510209, "Instalação e start-up de compressor ({n} HP)", "CIA_INST_", "Serviço", (900, 6_000)),
            (None, "Visita técnica - região {n}", "CIA_VISITA_", "Visita", (250, 900)),
            (None, "Análise de óleo e vibração nº {n}", "CIA_ANALISE_", "Serviço", (300, 1_500)),
        ],
    ),
    "rental": (
        400104,
        [
            (510211, "Locação de Martelete Rompedor {n} kg", "CIA_LOC_MART_", "Dia", (90, 400)),
            (510210, "Locação de Compressor Portátil {n} PCM", "CIA_LOC_COMP_", "Dia", (350, 2_500)),
            (510210, "Locação mensal de compressor {n} HP", "CIA_LOC_MENS_", "Mês", (3_000, 25_000)),
            (None, "Locação de Gerador {n} kVA", "CIA_LOC_GER_", "Dia", (400, 3_000)),
        ],
    ),
    "part": (
        400105,
        [
            (510212, "Filtro de Ar {n} Atlas Copco", "ATL-FA", "Peça", (60, 1_800)),
            (510212, "Filtro de Óleo Ingersoll {n}", "ING-FO", "Peça", (45, 900)),
            (510213, "Óleo Roto-Inject Fluid {n} L", "ATL-OL", "Litro", (35, 4_000)),
            (510214, "Kit de Manutenção {n}h", "ATL-KIT", "Kit", (400, 9_000)),
            (None, "Elemento Separador Ar/Óleo {n}", "ING-SEP", "Peça", (300, 5_000)),
        ],
    ),
}
ERP_ITEMS = ("FILTRO OLEO", "CORREIA DENTADA", "VALVULA ADMISSAO", "SENSOR TEMPERATURA", "MANGUEIRA 3/4")
FIELDS: tuple[tuple[str, str, str], ...] = (  # (FieldKey, slot, label)
    ("product_4F1A2B3C5D6E7F8091A2B3C4D5E6F708", "StringValue", "Marca"),
    ("product_0A7C91E3B25D4F6A8C0E2B4D6F8A1C3E", "IntegerValue", "Potência (HP)"),
    ("product_9B3E5D7F1A2C4E6B8D0F2A4C6E8B1D3F", "DecimalValue", "Peso (kg)"),
    ("product_71D2A4C6E8F0B2D4F6A8C0E2B4D6F8A0", "DateTimeValue", "Data de lançamento"),
    ("product_C04F6B8D0A2C4E6F8B0D2F4A6C8E0B2D", "BooleanValue", "Importado"),
    ("product_E5A9C1E3B5D7F9A1C3E5B7D9F1A3C5E7", "ObjectValue", "Fornecedor"),
    ("product_3D8B0F2A4C6E8B0D2F4A6C8E0B2D4F6A", "StringValue", "NCM"),
    ("product_B61F3A5C7E9B1D3F5A7C9E1B3D5F7A9C", "IntegerValue", "Garantia (meses)"),
)
BRANDS = ("Atlas Copco", "Ingersoll Rand", "Chicago Pneumatic", "Schulz", "Kaeser Kompressoren")
SUPPLIERS = (
    (1203, "Atlas Copco Brasil Ltda."),
    (1377, "Ingersoll Rand do Brasil"),
    (2210, "Metalúrgica São José"),
)
