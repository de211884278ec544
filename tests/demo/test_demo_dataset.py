"""The demo's eval dataset: 120 historical trial briefs with the edge cases a suite should meet."""

from demo.evals import DATASET_FILE
from evals.importing import parse_dataset


def test_the_demo_ships_120_varied_briefs_with_edge_cases():
    result = parse_dataset(DATASET_FILE.read_bytes(), filename=DATASET_FILE.name)
    assert result.ok, result.errors[:3]
    items = result.rows
    tags = {tag for item in items for tag in item.tags}

    assert len(items) == 120 and len({i.name for i in items}) == 120
    assert {
        "edge_case:offer_without_expiry",
        "edge_case:expired_offer",
        "edge_case:restricted_term_bait",
        "edge_case:competitor_mention",
        "edge_case:empty_usage",
        "edge_case:long_usage",
        "edge_case:numbers_in_facts",
        "edge_case:non_ascii_name",
    } <= tags
    assert any(len(i.product_usage_summary) > 1500 for i in items)
    assert any("SOC 2" in i.product_usage_summary for i in items) and any(
        "HIPAA" in i.product_usage_summary for i in items
    )
