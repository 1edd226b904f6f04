"""Plain data the rest of the shop passes around."""

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Item:
    sku: str
    name: str
    price_cents: int
    quantity: int = 0
    tags: List[str] = field(default_factory=list)


@dataclass
class Customer:
    name: str
    email: Optional[str] = None
    discount_percent: int = 0


@dataclass
class OrderLine:
    sku: str
    quantity: int


@dataclass
class Order:
    customer: Customer
    lines: List[OrderLine]
    total_cents: int = 0
    note: Optional[str] = None
