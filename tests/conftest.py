import pytest


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A folder on sys.path for temporary plugin distributions (removed after the test)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site
