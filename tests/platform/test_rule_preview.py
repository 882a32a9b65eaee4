"""The grayscale rule preview: "this rule reaches N of the last M users seen", from the users the
update check answered (kept as keyed hashes, never the ids), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from minibox.platform.apps.models import App
from minibox.platform.release.grayscale import BUCKETS, bucket
from minibox.platform.release.seen import SeenUser
from tests.platform.test_update_cache import Env
from tests.platform.test_update_cache import env as env


def test_preview_counts_the_users_a_rule_reaches(env: Env) -> None:
    app_id = env.new_app(("1.0.0",))
    env.op(env.a, "POST", f"/api/v1/apps/{app_id}/releases", json={"version": "1.0.0"})
    users = [f"user-{i}" for i in range(200)]
    for i, u in enumerate(users):
        r = env.check(env.a if i % 2 else env.b, app_id, u, region="cn-sh" if i % 4 == 0 else "cn-bj",
                      tags="staff" if i < 20 else "")
        assert r.status_code == 200, r.text
    for replica in (env.a, env.b):
        replica.platform.releases.seen.flush()

    def preview(rules: dict) -> dict:
        return env.op(env.a, "POST", f"/api/v1/apps/{app_id}/releases/preview", json={"rules": rules}).json()

    with env.a.platform.db.read() as s:
        app = s.execute(select(App).where(App.app_id == app_id)).scalar_one()
        salt, app_pk = app.gray_salt, app.id
        keys = [r.user_key for r in s.execute(select(SeenUser).where(SeenUser.app_pk == app_pk)).scalars()]
    assert len(keys) == 200 and not any(k.startswith("user-") for k in keys)  # never the ids themselves
    ten = sum(1 for u in users if bucket(salt, app_id, u) < 10 * BUCKETS / 100)
    got = preview({"percentage": 10})
    assert got["matched"] == ten and got["seen"] == 200 and got["since"]
    assert preview({"regions": ["cn-sh"]})["matched"] == 50
    assert preview({"tags": ["staff"]})["matched"] == 20
    assert preview({"users": ["user-1", "user-2", "nobody"]})["matched"] == 2
    assert preview({"hosts": ["no-such-host"], "percentage": 100})["matched"] == 0
    assert preview({"regions": ["cn-sh"], "percentage": 100})["matched"] == 50
    r = env.a.client.post(f"/api/v1/apps/{app_id}/releases/preview", json={"rules": {}},
                          headers={"Authorization": env.a.client.headers.get("Authorization", "")})
    assert r.status_code in (401, 422)
