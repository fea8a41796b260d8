"""The agent API refuses what an agent may not do, each with a clear error, in-process.

A native recipe approved by a maintainer queues a job per subdir × Python. A builder token
for linux-64 claims a linux-64 job and none for win-64; it cannot act on a job it does not
hold, upload packages for another subdir or Python (refused, the reason in the job's log,
nothing published), or publish through the upload route; reader, uploader and admin tokens
cannot act as agents. win-64 jobs wait, said so in `drawbridge jobs` and the UI, until an
agent for win-64 asks.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from builders import make_sdist, make_target_tar_bz2, make_wheel
from commands import invoke_drawbridge
from databases import new_home
from servers import AppClient

from drawbridge.bridge.farm.jobs import JobBook
from drawbridge.bridge.farm.schedule import queue_recipe
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

RECIPE = """\
package:
  name: farmdemo
  version: "1.0"
source:
  url: https://pypi.invalid/farmdemo-1.0.tar.gz
  sha256: {sha256}
build:
  number: 0
  script: ${{{{ PYTHON }}}} -m pip install . --no-deps --no-build-isolation
requirements:
  build:
    - ${{{{ compiler('c') }}}}
  host:
    - python
    - pip
  run:
    - python
"""


@pytest.fixture
def farm(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A home with farmdemo approved for Python 3.12 on linux-64 and win-64, its jobs
    queued, and a client with tokens of each kind."""
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    config = config.replace(
        'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.12"]'
    ).replace("platforms = [", 'platforms = ["linux-64", "win-64"]\n# was: platforms = [')
    home.config_path.write_text(config)
    home = new_home(home.root)
    database = Database(home.database_url)
    Channels(home, database).create("main")
    sdist = make_sdist(tmp_path / "drop", "farmdemo", "1.0")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    DownloadCache(home.cache_dir).put(sdist, digest, sdist.name)
    curated = tmp_path / "curated" / "farmdemo"
    curated.mkdir(parents=True)
    (curated / "recipe.yaml").write_text(RECIPE.format(sha256=digest))
    book = RecipeBook(home, database, curated_dir=tmp_path / "curated")
    recipe = book.generate("farmdemo", "1.0", None, _names(), "mia")  # type: ignore[arg-type]
    recipe = book.decide("farmdemo", True, "mia", "")
    jobs = queue_recipe(JobBook(database), recipe, "main", ["linux-64", "win-64"], ["3.12"])
    tokens = {
        "linux": create_token(database, "builder1", Role.builder, platforms=["linux-64"]),
        "win": create_token(database, "builder2", Role.builder, platforms=["win-64"]),
        **{r.name: create_token(database, f"u-{r.name}", r) for r in Role if r is not Role.builder},
    }
    with AppClient(home) as client:
        yield {"client": client, "tokens": tokens, "jobs": jobs, "home": home, "tmp": tmp_path}
    database.close()


def _names():  # type: ignore[no-untyped-def]
    from drawbridge.bridge.translate.names import default_table

    return default_table()


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def claim(farm: dict, token: str, platforms: list[str], agent: str = "a1"):  # type: ignore[no-untyped-def]
    return farm["client"].post(
        "/api/agent/claim",
        json={"agent": agent, "platforms": platforms, "pythons": ["3.12"]},
        headers=_as(token),
    )


def test_the_jobs_are_queued_per_target(farm: dict):
    assert [(j.subdir, j.python, j.state) for j in farm["jobs"]] == [
        ("linux-64", "3.12", "queued"),
        ("win-64", "3.12", "queued"),
    ]


@pytest.mark.parametrize("role", ["reader", "uploader", "maintainer", "admin"])
def test_only_a_builder_token_acts_as_an_agent(farm: dict, role: str):
    refused = claim(farm, farm["tokens"][role], ["linux-64"])
    assert refused.status_code == 403, refused.text
    said = refused.json()["detail"]
    assert "only build agents act on build jobs, with a token of the builder role" in said
    assert f"u-{role} is a" in said


def test_anonymous_is_asked_for_a_token(farm: dict):
    refused = farm["client"].post(
        "/api/agent/claim", json={"agent": "a1", "platforms": ["linux-64"]}
    )
    assert refused.status_code == 403 and "builder role" in refused.json()["detail"]


def test_a_linux_builder_cannot_claim_a_win_job(farm: dict):
    refused = claim(farm, farm["tokens"]["linux"], ["win-64"])
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "this builder token builds for linux-64 only; it may not build for win-64"
    )
    got = claim(farm, farm["tokens"]["linux"], ["linux-64"])
    assert got.status_code == 200 and got.json()["subdir"] == "linux-64"
    assert claim(farm, farm["tokens"]["linux"], ["linux-64"]).status_code == 204  # none left


def test_no_agent_acts_on_a_job_it_does_not_hold(farm: dict):
    linux_job, win_job = (j.id for j in farm["jobs"])
    client, token = farm["client"], farm["tokens"]["linux"]
    for path, body in (
        (f"/api/agent/jobs/{linux_job}/fail", {"agent": "a1", "reason": "x"}),
        (f"/api/agent/jobs/{linux_job}/native", {"agent": "a1", "found": []}),
    ):
        refused = client.post(path, json=body, headers=_as(token))
        assert refused.status_code == 409, refused.text
        assert f"job {linux_job} is not held by agent 'a1'" in refused.json()["detail"]
    assert claim(farm, token, ["linux-64"], agent="a1").json()["id"] == linux_job
    # another agent of the same token, and the held job's recipe for another agent
    other = client.get(f"/api/agent/jobs/{linux_job}/recipe", headers={**_as(token), "agent": "a2"})
    assert other.status_code == 409 and "not held by agent 'a2'" in other.json()["detail"]
    beat = client.post(
        f"/api/agent/jobs/{linux_job}/heartbeat", json={"agent": "a2"}, headers=_as(token)
    )
    assert beat.json() == {"action": "stop"}
    mine = client.get(f"/api/agent/jobs/{linux_job}/recipe", headers={**_as(token), "agent": "a1"})
    assert mine.status_code == 200 and "farmdemo" in mine.text
    # a win-64 job is never this token's, held or not
    refused = upload(farm, win_job, [], agent="a1")
    assert refused.status_code == 409 and f"job {win_job} is not held" in refused.json()["detail"]


def upload(farm: dict, job_id: int, files: list[Path], agent: str = "a1", **record):  # type: ignore[no-untyped-def]
    job = next(j for j in farm["jobs"] if j.id == job_id)
    record = {
        "job": job_id,
        "recipe_sha256": job.recipe_sha256,
        "outputs": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
        **record,
    }
    return farm["client"].post(
        f"/api/agent/jobs/{job_id}/finish",
        data={"agent": agent, "record": json.dumps(record)},
        files=[("files", (p.name, p.read_bytes())) for p in files],
        headers=_as(farm["tokens"]["linux"]),
    )


@pytest.mark.parametrize(
    ("subdir", "python", "record", "said"),
    [
        ("linux-64", "3.9", {}, "is for python 3.9, and job {job} builds for python 3.12"),
        ("linux-aarch64", "3.12", {}, "is for linux-aarch64, and job {job} builds for linux-64"),
        (
            "linux-64",
            "3.12",
            {"recipe_sha256": "0" * 64},
            "the build record's recipe sha256 '000000000000' is not the job's approved one",
        ),
    ],
    ids=["another Python", "another subdir", "another recipe"],
)
def test_outputs_for_another_target_are_refused_and_nothing_is_published(
    farm: dict, subdir: str, python: str, record: dict, said: str
):
    job = claim(farm, farm["tokens"]["linux"], ["linux-64"]).json()["id"]
    package = make_target_tar_bz2(farm["tmp"] / "made", "farmdemo", "1.0", python, subdir=subdir)
    refused = upload(farm, job, [package], **record)
    assert refused.status_code == 422, refused.text
    assert said.format(job=job) in refused.json()["detail"]
    assert "nothing was published" in refused.json()["detail"]
    shown = JobBook(Database(farm["home"].database_url)).get(job)
    assert shown.state == "failed" and said.format(job=job) in shown.log  # the reason, logged
    assert Channels(farm["home"], Database(farm["home"].database_url)).conda_packages("main") == []
    again = upload(farm, job, [package])  # the job has ended: no second try
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("tag", "said"),
    [
        ("cp312-cp312-linux_x86_64", "is not repaired: it is tagged for no manylinux"),
        ("cp312-cp312-manylinux_2_28_x86_64", "needs glibc 2.28, newer than the baseline 2.17"),
        ("cp312-cp312-manylinux_2_17_aarch64", "not for linux-64"),
    ],
    ids=["unrepaired", "past the baseline", "another machine"],
)
def test_a_wheel_not_repaired_for_the_jobs_subdir_is_refused(farm: dict, tag: str, said: str):
    """Only a wheel repaired for the job's target within the baseline reaches pip users."""
    got = claim(farm, farm["tokens"]["linux"], ["linux-64"])
    assert got.json()["baseline"]["glibc_minor"] == 17  # what the agent repairs to
    package = make_target_tar_bz2(farm["tmp"] / "made", "farmdemo", "1.0", "3.12")
    wheel = make_wheel(farm["tmp"] / "made", "farmdemo", "1.0", tag=tag)
    refused = upload(farm, got.json()["id"], [package, wheel])
    assert refused.status_code == 422, refused.text
    assert said in refused.json()["detail"] and "nothing was published" in refused.json()["detail"]
    assert Channels(farm["home"], Database(farm["home"].database_url)).conda_packages("main") == []


def test_a_builder_token_cannot_publish_directly(farm: dict):
    package = make_target_tar_bz2(farm["tmp"] / "made", "farmdemo", "1.0", "3.12")
    refused = farm["client"].post(
        "/main/upload/",
        data={":action": "file_upload", "name": "farmdemo", "version": "1.0"},
        files={"content": (package.name, package.read_bytes())},
        headers=_as(farm["tokens"]["linux"]),
    )
    assert refused.status_code == 403
    assert "needs the uploader role; builder1 is a builder" in refused.json()["detail"]


def test_win_jobs_wait_for_a_win_builder_until_one_asks(farm: dict):
    home = farm["home"].root
    listed = " ".join(invoke_drawbridge("jobs", "list", home=home).stdout.split())
    assert "win-64 python 3.12 │ waiting for a builder of win-64" in listed, listed
    page = farm["client"].get("/ui/recipes/farmdemo/jobs")
    assert page.status_code == 200 and "waiting for a builder of win-64" in page.text
    got = claim(farm, farm["tokens"]["win"], ["win-64"], agent="winbox")
    assert got.status_code == 200 and got.json()["subdir"] == "win-64"
    shown = " ".join(invoke_drawbridge("jobs", "list", home=home).stdout.split())
    assert "win-64 python 3.12 │ claimed │ winbox" in shown, shown
    assert "waiting for a builder of win-64" not in shown


def test_a_job_whose_agents_keep_vanishing_fails_after_three_attempts_with_its_log(farm: dict):
    """Each claim's lease runs out (no heartbeat): queued again twice, then failed."""
    # the database keeps moments to the second: a lease of one
    book = JobBook(Database(farm["home"].database_url), lease_seconds=1)
    for attempt in (1, 2, 3):
        job = book.claim("builder1", f"agent{attempt}", ["linux-64"], ["3.12"])
        assert job is not None and job.attempts == attempt
        time.sleep(2.05)
    assert book.claim("builder1", "agent4", ["linux-64"], ["3.12"]) is None
    (ended,) = [j for j in book.jobs("farmdemo") if j.subdir == "linux-64"]
    assert ended.state == "failed" and ended.attempts == 3
    assert ended.reason == "agent agent3 stopped answering (its lease ran out); tried 3 times"
    assert ended.log.count("stopped answering") == 3 and "claimed by agent3" in ended.log


def test_an_agent_fails_a_job_of_a_platform_it_can_neither_build_nor_cross_build(farm: dict):
    """A linux-64 machine that asked for win-64 jobs fails the one it gets, saying why,
    instead of building it for linux-64 or cross-compiling with no compiler for it."""
    from drawbridge.agent.api import AgentApi
    from drawbridge.agent.work import Options, run
    from drawbridge.cli.local_agent import InProcessHttp
    from drawbridge.server.app import create_app

    token = farm["tokens"]["win"]
    http = InProcessHttp(create_app(farm["home"]), token)
    try:
        options = Options(
            server="http://in-process", token=token, platforms=("win-64",), host="linux-64",
            work=farm["tmp"] / "work", channels=("file:///nowhere",),
        )  # fmt: skip
        (done,) = run(AgentApi(http, "linuxbox"), options, once=True)
    finally:
        http.close()
    said = "agent linuxbox is a linux-64 machine and cannot build win-64"
    assert done.outcome == "failed" and said in done.detail, done
    shown = JobBook(Database(farm["home"].database_url)).get(done.job.id)
    assert shown.state == "failed" and said in shown.reason
