from stockroom import Inventory, Item, OutOfStock


def make_inventory() -> Inventory:
    return Inventory(
        [
            Item("A-1", "anvil", price_cents=4_999, quantity=3, tags=["heavy"]),
            Item("B-2", "bucket", price_cents=799, quantity=12, tags=["garden", "heavy"]),
        ]
    )


def test_add_merges_quantities() -> None:
    inventory = make_inventory()
    inventory.add(Item("A-1", "anvil", price_cents=4_999, quantity=2))
    assert inventory.quantity_of("A-1") == 5


def test_remove_refuses_more_than_the_shelf_holds() -> None:
    inventory = make_inventory()
    try:
        inventory.remove("A-1", 4)
    except OutOfStock:
        pass
    else:
        raise AssertionError("removing 4 of 3 anvils should fail")
    assert inventory.quantity_of("A-1") == 3


def test_low_stock_lists_items_under_the_threshold() -> None:
    inventory = make_inventory()
    assert [item.sku for item in inventory.low_stock()] == ["A-1"]
