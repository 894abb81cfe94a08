"""Several workers started at once."""
import models
from conftest import make_app
import app as app_module


def test_the_secret_key_of_a_racing_worker_is_the_first_one_written(tmp_path, monkeypatch):
    """Two workers started together without SECRET_KEY must not sign with two keys."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = make_app(tmp_path, SECRET_KEY=None).config["SECRET_KEY"]
    models.db.close()
    # The second worker checked before the first wrote, then writes its own candidate.
    monkeypatch.setattr(app_module.Path, "exists", lambda path: False)
    second = make_app(tmp_path, SECRET_KEY=None).config["SECRET_KEY"]
    monkeypatch.undo()
    assert second == first
    assert [path.name for path in tmp_path.glob(".secret_key*")] == []
