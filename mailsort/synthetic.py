"""Synthetic mailings for tests, the demo and the benchmark: made-up addresses in the tables' ranges."""

from __future__ import annotations

import random

from mailsort.model import MailPiece

__all__ = ["synthetic_mailing"]

_UK_AREAS = ("BS", "CF", "EH", "G", "L", "M", "NE", "YO", "SW", "ZZ")  # ZZ: in no selection
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def synthetic_mailing(count: int, seed: int = 1, *, operator: str = "usps-fcm", bad_share: float = 0.002,
                      prefix: str = "P") -> list[MailPiece]:
    """`count` pieces whose postcodes fit the operator and the synthetic tables, a few deliberately unusable.

    USPS delivery points cluster the way real lists do: a few ZIP3s and ZIP5s carry much of the volume,
    so every sort level appears.
    """
    rng = random.Random(seed)
    rand, choice = rng.random, rng.choice
    zip3s = [f"{z:03d}" for z in range(300, 600)]
    weights3 = [1.0 / (1 + (k * 7919) % 97) for k in range(len(zip3s))]  # a fixed, skewed spread
    pieces = []
    picks3 = rng.choices(zip3s, weights3, k=count)
    for i in range(count):
        if rand() < bad_share:
            postcode = choice(("", "1234", "30301", "303011234", "3030X123456", "not a postcode"))
        elif operator.startswith("usps"):
            zip5 = f"{int(rng.paretovariate(1.2)) % 100:02d}"
            postcode = f"{picks3[i]}{zip5}{rng.randrange(10000):04d}{rng.randrange(100):02d}"
        elif operator.startswith("dp"):
            postcode = f"{int(rng.paretovariate(1.1)) % 99 + 1:02d}{rng.randrange(1000):03d}"
        else:
            area = choice(_UK_AREAS)
            postcode = f"{area}{rng.randrange(1, 9)} {rng.randrange(10)}{choice(_LETTERS)}{choice(_LETTERS)}"
        pieces.append(MailPiece(f"{prefix}{i:07d}", postcode, round(5 + 23 * rand(), 1), round(0.3 + 1.2 * rand(), 2)))
    return pieces
