from stockroom import Customer, Inventory, Item, OrderLine
from stockroom.billing import format_money, render_invoice
from stockroom.orders import place_order
from stockroom.reports import tag_report


def make_inventory() -> Inventory:
    return Inventory(
        [
            Item("A-1", "anvil", price_cents=5_000, quantity=3, tags=["heavy"]),
            Item("B-2", "bucket", price_cents=800, quantity=12, tags=["garden", "heavy"]),
        ]
    )


def test_format_money() -> None:
    assert format_money(123_456) == "1234.56 EUR"


def test_order_total_includes_discount_and_tax() -> None:
    inventory = make_inventory()
    customer = Customer("Ada", discount_percent=10)
    order = place_order(inventory, customer, [OrderLine("A-1", 1), OrderLine("B-2", 5)])
    # 9000 cents, minus 10 % is 8100, plus 20 % tax is 9720.
    assert order.total_cents == 9_720
    assert inventory.quantity_of("B-2") == 7


def test_invoice_lists_every_line() -> None:
    inventory = make_inventory()
    text = render_invoice(inventory, Customer("Bob"), [OrderLine("B-2", 2)])
    assert text.splitlines() == [
        "Invoice for Bob",
        "  2 x B-2: 16.00 EUR",
        "  tax: 3.20 EUR",
        "  total: 19.20 EUR",
    ]


def test_tag_report_counts_each_tag() -> None:
    assert tag_report(make_inventory()) == "garden: 1, heavy: 2"
