"""The README and docs/ against the code: commands that parse, links that resolve, shipped configs that exist; and
the checks fail on planted stale text."""
import pytest

from helpers.docs_checks import ROOT, documents, findings_in


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_command_link_and_config_shown_is_current(path):
    assert findings_in(path) == []


@pytest.mark.parametrize("stale, named", [
    ("    erfnet train --config smoke --data scenes --out runs/smoke --epochs 3\n", "erfnet train has no --epochs"),
    ("    erfnet train --config smoke --data scenes\n", "does not parse"),
    ("Run `erfnet evaluate --weights w.ckpt`.\n", "no subcommand 'evaluate'"),
    ("    erfnet train --config cityscapes_5stage --data d --out r\n", "no shipped config 'cityscapes_5stage'"),
    ("See [the guide](docs/no-such-page.md).\n", "no such file"),
    ("See [devices](docs/training.md#gpus).\n", "no heading #gpus"),
])
def test_a_planted_stale_line_is_found(stale, named):
    readme = ROOT / "README.md"
    found = findings_in(readme, readme.read_text() + "\n" + stale)
    assert any(named in line for line in found), found


def test_the_readme_is_a_page_a_newcomer_reads():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
