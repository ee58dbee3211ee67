"""The deploy recipes (deploy/): the Compose file, the Kubernetes manifests, the image.

No container engine or cluster runs on these machines, so the recipes are never started
here. These tests check what can be checked without one: every YAML file parses; every
container runs a real command of this project (`scrapy crawl <a real spider>`, a real
`linkcrawl` subcommand with options its parser accepts, the Spark entry point with the
options it takes); every LINKCRAWL_* variable is one the project reads; every file,
ConfigMap, claim and Secret key a recipe names exists or is documented; Redis persists
and never evicts; a worker's grace period covers the documented shutdown time; the
image installs the project exactly as the Makefile (README's `make`) does.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkcrawl import settings as project_settings
from linkcrawl.cli import build_parser
from linkcrawl.frontier import meta as frontier_meta
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
OPERATIONS = ROOT / "docs" / "operations.md"
#: Where the image puts the repository (deploy/Dockerfile: WORKDIR).
IMAGE_ROOT = "/opt/linkcrawl/"
#: Written by other work in progress; a reference to them is skipped, with this message,
#: while they are absent, and checked as soon as they exist.
PENDING = {"deploy/spark/authority.py": "the Spark entry point is not in this tree yet"}

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
#: Our images; anything else (redis) is someone else's command.
OUR_IMAGES = {f"linkcrawl:{VERSION}", f"linkcrawl-spark:{VERSION}"}
#: Environment variables the project reads: settings.py's whitelist, and the Redis URL
#: (read by the frontier itself so that its password never reaches Scrapy's log).
ENV_READ = {*project_settings.ENV_SETTINGS, "LINKCRAWL_REDIS_URL"}
#: Cloud credentials, read by pyarrow for object-storage output: the ones docs/storage.md
#: documents may be added to a recipe (none is set in the recipes as shipped).
STORAGE = ROOT / "docs" / "storage.md"
CLOUD_ENV = (
    set(re.findall(r"\b((?:AWS|GOOGLE|AZURE)_[A-Z0-9_]+)\b", STORAGE.read_text()))
    if STORAGE.exists()
    else set()
)


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    (doc,) = load_all(COMPOSE_FILE)
    assert isinstance(doc, dict)
    return doc


def k8s_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_all(path):
            doc["__file__"] = path.name
            objects.append(doc)
    return objects


def obj_name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return str(meta.get("name") or meta.get("generateName", ""))


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def k8s_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, container, pod spec) of every container of every workload."""
    return [(where, c, spec) for where, c, spec, _ in k8s_workload_containers()]


def k8s_workload_containers() -> list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(where, container, pod spec, object) of every container of every workload."""
    found = []
    for obj in k8s_objects():
        spec = pod_spec(obj)
        if spec is None:
            continue
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            where = f"{obj['__file__']}:{obj['kind']}/{obj_name(obj)}/{c['name']}"
            found.append((where, c, spec, obj))
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for instr, args in dockerfile_instructions():
        if instr == "FROM":
            name = args.split()[-1] if " AS " in args.upper() else args
            current = stages.setdefault(name, [])
        if current is not None:
            current.append((instr, args))
    return stages


def stage_chain(name: str) -> list[tuple[str, str]]:
    """A stage's instructions after those of the stages it is built FROM."""
    stages = dockerfile_stages()
    instructions = stages[name]
    parent = instructions[0][1].split()[0]
    return (stage_chain(parent) if parent in stages else []) + instructions


def image_cmd() -> list[str]:
    cmds = [args for instr, args in stage_chain("crawler") if instr == "CMD"]
    assert cmds, "the crawler stage has no CMD"
    value = yaml.safe_load(cmds[-1])
    assert isinstance(value, list), "CMD must be the exec form (Scrapy itself gets SIGTERM)"
    return [str(v) for v in value]


# ---------------------------------------------------------------- the commands themselves


@pytest.fixture(scope="module")
def spiders() -> set[str]:
    """The project's spiders, as the real `scrapy list` command reports them."""
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    names = set(result.stdout.split())
    assert "backlinks" in names
    return names


def known_setting(name: str) -> bool:
    from scrapy.settings import default_settings

    return hasattr(project_settings, name) or hasattr(default_settings, name)


def check_command(argv: list[str], spiders: set[str], where: str) -> None:
    """Fail unless ``argv`` is a real command of this project with accepted options."""
    assert argv, f"{where}: empty command"
    exe = argv[0]
    if exe == "scrapy":
        assert argv[1:2] == ["crawl"], f"{where}: {argv}"
        assert argv[2] in spiders, f"{where}: no spider {argv[2]!r} (have {sorted(spiders)})"
        rest = argv[3:]
        while rest:
            flag, value, rest = rest[0], rest[1], rest[2:]
            assert flag in ("-s", "--set", "-a"), f"{where}: unexpected {flag!r}"
            if flag != "-a":
                name = value.partition("=")[0]
                assert known_setting(name), f"{where}: -s {name}: no such setting"
    elif exe == "linkcrawl":
        check_linkcrawl_args(argv[1:], where)
    elif exe == "spark-submit":
        check_spark_submit(argv, where)
    else:
        pytest.fail(f"{where}: {exe!r} is not a command of this project")


def check_linkcrawl_args(args: list[str], where: str) -> None:
    """``linkcrawl <args>`` is accepted by the CLI's parser, every option spelled in full
    (argparse would also take an abbreviation, which a later option could make ambiguous)."""
    parser = build_parser()
    try:
        parser.parse_args(args)
    except SystemExit as e:
        pytest.fail(f"{where}: `linkcrawl {shlex.join(args)}` is refused by its parser ({e})")
    sub = parser
    for token in args:
        actions = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or token not in actions[0].choices:
            break
        sub = actions[0].choices[token]
    spelled = {o for a in sub._actions for o in a.option_strings}
    for token in args:
        if token.startswith("-"):
            assert token.split("=", 1)[0] in spelled, f"{where}: {token} is not an option"


def check_spark_submit(argv: list[str], where: str) -> None:
    apps = [i for i, a in enumerate(argv) if a.startswith("local://")]
    assert len(apps) == 1, f"{where}: spark-submit needs one local:// application"
    app = argv[apps[0]].removeprefix("local://")
    assert app.startswith(IMAGE_ROOT), f"{where}: {app} is not in the image's repository"
    relative = app.removeprefix(IMAGE_ROOT)
    app_args = argv[apps[0] + 1 :]
    # deploy/spark/authority.py takes the options of `linkcrawl authority`.
    check_linkcrawl_args(["authority", *app_args], where)
    script = ROOT / relative
    if not script.exists():
        pytest.skip(f"{relative}: {PENDING.get(relative, 'missing')}; its options not checked")
    result = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    for option in (a for a in app_args if a.startswith("--")):
        assert option in result.stdout, f"{where}: {relative} has no {option}"


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A Compose service's or a Kubernetes container's environment: name -> value."""
    if "env" in container:
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    env = container.get("environment") or {}
    assert isinstance(env, dict), "write Compose environments as mappings"
    return env


def compose_containers() -> list[tuple[str, dict[str, Any]]]:
    return [(f"compose:{name}", svc) for name, svc in compose()["services"].items()]


def our_commands() -> list[tuple[str, list[str], dict[str, Any]]]:
    """(where, argv, container) for every container running one of our images."""
    found = []
    for where, svc in compose_containers():
        if svc.get("image") in OUR_IMAGES:
            found.append((where, [str(a) for a in svc.get("command") or image_cmd()], svc))
    for where, c, _ in k8s_containers():
        if c["image"] in OUR_IMAGES:
            argv = [str(a) for a in (c.get("command") or image_cmd()) + c.get("args", [])]
            found.append((where, argv, c))
    return found


def test_every_yaml_file_parses() -> None:
    files = yaml_files()
    assert COMPOSE_FILE in files and len(files) >= 8
    for path in files:
        docs = load_all(path)
        assert docs, path
        for doc in docs:
            assert isinstance(doc, dict), path
            if path.is_relative_to(K8S):
                assert {"apiVersion", "kind"} <= doc.keys(), path


def test_every_recipe_has_its_commands() -> None:
    wheres = {where.split("/")[0] for where, _, _ in our_commands()}
    assert {"compose:seed", "compose:worker", "compose:authority"} <= wheres
    assert {"worker.yaml:Deployment", "seed-job.yaml:Job", "authority-cronjob.yaml:CronJob",
            "authority-spark.yaml:Job"} <= wheres  # fmt: skip


@pytest.mark.parametrize(
    ("where", "argv"),
    [pytest.param(where, argv, id=where) for where, argv, _ in our_commands()]
    # the image's default command too
    + [pytest.param("deploy/Dockerfile CMD", image_cmd(), id="Dockerfile-CMD")],
)
def test_container_runs_a_real_command(where: str, argv: list[str], spiders: set[str]) -> None:
    check_command(argv, spiders, where)


def test_containers_use_only_the_environment_variables_the_project_reads() -> None:
    # the Redis URL really is read from the environment (not from settings.py's list)
    assert "LINKCRAWL_REDIS_URL" in inspect.getsource(frontier_meta.redis_url)
    for where, argv, c in our_commands():
        names = set(env_of(c))
        # a variable may also exist only to be expanded into the command line: $(NAME)
        expanded = set(re.findall(r"\$\((\w+)\)", " ".join(argv)))
        unknown = names - ENV_READ - CLOUD_ENV - expanded
        assert not unknown, f"{where}: {sorted(unknown)} are not read by linkcrawl"
        # every container but the authority jobs' talks to the frontier
        if argv[0] != "spark-submit" and argv[:2] != ["linkcrawl", "authority"]:
            assert "LINKCRAWL_REDIS_URL" in names, f"{where}: no LINKCRAWL_REDIS_URL"
    docker_env = " ".join(a for i, a in dockerfile_instructions() if i == "ENV")
    for name in re.findall(r"\b(LINKCRAWL_\w+)=", docker_env):
        assert name in ENV_READ, f"deploy/Dockerfile sets {name}, which linkcrawl does not read"


# ------------------------------------------------------------------ referenced files


def referenced_paths() -> list[str]:
    texts = [p.read_text() for p in yaml_files()]
    texts += [DOCKERFILE.read_text(), (ROOT / ".dockerignore").read_text(), OPERATIONS.read_text()]
    pattern = r"(?<![\w./-])((?:docs|deploy|linkcrawl|pipelines|benchmarks|tests)/[\w./-]*\w\.(?:md|py|yaml|conf|txt|toml))"  # noqa: E501
    found = {m for text in texts for m in re.findall(pattern, text)}
    # the application spark-submit runs, inside the image's copy of the repository
    found |= {a.removeprefix(f"local://{IMAGE_ROOT}") for _, argv, _ in our_commands()
              for a in argv if a.startswith(f"local://{IMAGE_ROOT}")}  # fmt: skip
    return sorted(found)


@pytest.mark.parametrize("path", referenced_paths())
def test_referenced_file_exists(path: str) -> None:
    if path in PENDING and not (ROOT / path).exists():
        pytest.skip(f"{path}: {PENDING[path]} (the check stays: it runs once the file exists)")
    assert (ROOT / path).is_file(), f"{path} is named in deploy/ or docs/operations.md"


def test_spark_entry_point_is_referenced() -> None:
    assert "deploy/spark/authority.py" in referenced_paths()


def test_compose_files_and_mounts_exist() -> None:
    doc = compose()
    for name, svc in doc["services"].items():
        build = svc.get("build")
        if build:
            context = (COMPOSE_DIR / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).is_file(), name
            stages = dockerfile_stages()
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in doc["volumes"], f"{name}: volume {source} is not declared"


def test_k8s_references_resolve() -> None:
    objects = k8s_objects()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj_name(obj)] = obj
    kustomization = by_kind["Kustomization"]
    (kust,) = kustomization.values()
    for resource in kust["resources"]:
        assert (K8S / resource).is_file(), resource
    operations = OPERATIONS.read_text()
    for where, c, spec, obj in k8s_workload_containers():
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                r = ref["configMapKeyRef"]
                assert r["key"] in by_kind["ConfigMap"][r["name"]]["data"], where
            if "secretKeyRef" in ref:
                # Secrets are created by the operator: docs/operations.md must say how.
                r = ref["secretKeyRef"]
                assert f"kubectl create secret generic {r['name']}" in operations, where
                assert f"--from-literal={r['key']}=" in operations, where
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in by_kind[
                    "PersistentVolumeClaim"], where  # fmt: skip
            if "configMap" in volume:
                cm = by_kind["ConfigMap"][volume["configMap"]["name"]]
                for item in volume["configMap"].get("items", []):
                    assert item["key"] in cm["data"], where
        mounts = {m["name"] for m in c.get("volumeMounts", [])}
        claims = {v["name"] for v in spec.get("volumes", [])}
        templates = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        assert mounts <= claims | templates, f"{where}: mounts {mounts - claims - templates}"
        if "serviceAccountName" in spec:
            assert spec["serviceAccountName"] in by_kind["ServiceAccount"], where
    for service in by_kind["Service"].values():
        selector = service["spec"]["selector"]
        targets = [
            o for o in objects
            if o["kind"] in ("Deployment", "StatefulSet")
            and selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert targets, f"Service {obj_name(service)} selects no pods"


def test_kustomize_builds() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize deploy/k8s` not run")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(result.stdout)}
    assert {"StatefulSet", "Service", "Deployment", "CronJob"} <= kinds


# ------------------------------------------------------------------ what the issue asks


def test_k8s_has_the_objects_the_issue_names() -> None:
    objects = k8s_objects()
    kinds = {o["kind"] for o in objects}
    assert {"StatefulSet", "Service", "Deployment", "Job", "CronJob"} <= kinds
    argv_of = {where: argv for where, argv, _ in our_commands()}

    def commands(kind: str) -> list[list[str]]:
        return [argv for where, argv in argv_of.items() if f":{kind}/" in where]

    assert any(argv[:3] == ["scrapy", "crawl", "backlinks"] for argv in commands("Deployment"))
    assert any(argv[:2] == ["linkcrawl", "seed"] for argv in commands("Job"))
    assert any(argv[:2] == ["linkcrawl", "authority"] for argv in commands("CronJob"))
    spark = [argv for argv in commands("Job") if argv[0] == "spark-submit"]
    assert spark, "no spark-submit Job"
    (argv,) = spark
    assert argv[argv.index("--master") + 1].startswith("k8s://")
    confs = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")
    assert confs["spark.kubernetes.container.image"] in OUR_IMAGES
    redis = [o for o in objects if o["kind"] == "StatefulSet"]
    assert redis and redis[0]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "redis:"
    )


def test_all_workloads_share_one_output() -> None:
    """Workers write where the authority jobs read, on a ReadWriteMany claim / one volume."""
    outputs = set()
    inputs = set()
    for _, argv, c in our_commands():
        env = env_of(c)
        if argv[:2] == ["scrapy", "crawl"]:
            outputs.add(env["LINKCRAWL_OUTPUT"])
        if "--input" in argv:
            inputs.add(argv[argv.index("--input") + 1])
    assert len(outputs) == 1 and inputs == outputs, (outputs, inputs)
    (output,) = outputs
    pvcs = [o for o in k8s_objects() if o["kind"] == "PersistentVolumeClaim"]
    assert any("ReadWriteMany" in p["spec"]["accessModes"] for p in pvcs)
    for where, c, _ in k8s_containers():
        if c["image"] in OUR_IMAGES and c["name"] != "seed" and c["name"] != "spark-submit":
            mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
            assert any(output.startswith(m + "/") for m in mounts), where
    doc = compose()
    for name in ("worker", "authority"):
        volumes = doc["services"][name]["volumes"]
        assert any(v.startswith("output:") and output.startswith(v.split(":")[1] + "/")
                   for v in volumes), name  # fmt: skip
    assert "output" in doc["volumes"]
    # The Spark driver and executors mount the same claim at the same place.
    (spark,) = [argv for _, argv, _ in our_commands() if argv[0] == "spark-submit"]
    confs = dict(spark[i + 1].split("=", 1) for i, a in enumerate(spark) if a == "--conf")
    for role in ("driver", "executor"):
        prefix = f"spark.kubernetes.{role}.volumes.persistentVolumeClaim.output"
        assert confs[f"{prefix}.options.claimName"] in {obj_name(p) for p in pvcs}
        assert output.startswith(confs[f"{prefix}.mount.path"] + "/")


def test_compose_scales_workers_after_seeding() -> None:
    services = compose()["services"]
    assert {"redis", "seed", "worker", "authority"} <= services.keys()
    worker = services["worker"]
    # `--scale worker=N` needs no fixed name and no published port
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker.get("init") is True  # tini hands SIGTERM to Scrapy
    url = worker["environment"]["LINKCRAWL_REDIS_URL"]
    assert re.match(r"rediss?://([^@]*@)?redis:6379/\d+$", url), url
    assert "redis" in services and "ports" not in services["redis"]


def redis_conf(text: str) -> dict[str, list[str]]:
    conf: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            conf.setdefault(key.lower(), []).append(value.strip())
    return conf


def memory_bytes(text: str) -> int:
    units = {"gb": 1024**3, "mb": 1024**2, "gi": 1024**3, "mi": 1024**2, "g": 1024**3}
    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", str(text))
    assert m, text
    return int(m.group(1)) * units.get(m.group(2).lower(), 1)


def test_redis_persists_and_never_evicts() -> None:
    text = (COMPOSE_DIR / "redis.conf").read_text()
    conf = redis_conf(text)
    assert conf["appendonly"] == ["yes"]
    assert conf["appendfsync"][0] in ("everysec", "always")
    assert conf.get("save"), "RDB snapshots (backups) are off"
    assert conf["maxmemory-policy"] == ["noeviction"]
    data_dir = conf["dir"][0]
    # compose: the config is the one mounted, the data dir is on a volume
    redis = compose()["services"]["redis"]
    conf_path = redis["command"][1]
    assert f"./redis.conf:{conf_path}:ro" in redis["volumes"]
    assert any(v.split(":")[1] == data_dir and not v.startswith(".") for v in redis["volumes"])
    assert memory_bytes(conf["maxmemory"][0]) < memory_bytes(redis["mem_limit"])
    # k8s: the ConfigMap is the same file, mounted where the container reads it
    (cm,) = [o for o in k8s_objects() if o["kind"] == "ConfigMap" and "redis.conf" in o["data"]]
    assert cm["data"]["redis.conf"] == text
    (sts,) = [o for o in k8s_objects() if o["kind"] == "StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert str(Path(c["args"][1]).parent) in mounts
    assert mounts[data_dir] in {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert memory_bytes(conf["maxmemory"][0]) < memory_bytes(c["resources"]["limits"]["memory"])


def seconds(text: str | int) -> int:
    m = re.fullmatch(r"(\d+)(s|m)?", str(text))
    assert m, text
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def test_worker_grace_period_covers_the_documented_shutdown() -> None:
    m = re.search(r"Shutdown budget: (\d+) s", OPERATIONS.read_text())
    assert m, "docs/operations.md states no shutdown budget"
    budget = int(m.group(1))
    text = OPERATIONS.read_text()
    # in-flight downloads alone may take DOWNLOAD_TIMEOUT twice (robots.txt, then the page)
    timeout = project_settings.DOWNLOAD_TIMEOUT
    assert f"DOWNLOAD_TIMEOUT` ({timeout} s)" in text
    assert budget > 2 * int(timeout)
    worker = compose()["services"]["worker"]
    assert seconds(worker["stop_grace_period"]) > budget
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    (deployment,) = [o for o in k8s_objects() if o["kind"] == "Deployment"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > budget
    # the page says what the recipes say
    assert f"stop_grace_period: {worker['stop_grace_period']}" in text
    assert f"terminationGracePeriodSeconds: {grace}" in text


# ------------------------------------------------------------------------ the image


def test_image_installs_as_the_makefile_and_readme_do() -> None:
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    # README: `make demo` / `make test` create .venv and install; the Makefile's `venv`
    # target is that install alone.
    assert "make demo   # creates .venv, installs" in readme
    assert re.search(r"^venv: \$\(VENV\)/\.installed$", makefile, re.M)
    install = re.search(r"^\$\(VENV\)/\.installed:.*\n\t(.+)$", makefile, re.M)
    assert install
    make_pip = install.group(1).replace("$(BIN)", ".venv/bin")
    assert make_pip == ".venv/bin/python -m pip install --quiet -e ."
    stages = dockerfile_stages()
    runs = [args for instr, args in stage_chain("crawler") if instr == "RUN"]
    assert any(re.match(r"make venv( |$)", r) for r in runs), runs
    # no other pip install in the crawler stage: the image is what `make venv` makes
    assert not any("pip install" in r for r in runs), runs
    # the spark stage adds the `spark` extra with the Makefile's own install line
    spark_runs = [args for instr, args in stages["spark"] if instr == "RUN"]
    extra = make_pip.replace("-e .", "-e '.[spark]'")
    assert any(r.startswith(extra + " ") or r == extra for r in spark_runs), spark_runs
    assert "spark" in PYPROJECT["project"]["optional-dependencies"]
    # base image: the slim Python of the project's floor
    args = {k: v for instr, a in dockerfile_instructions() if instr == "ARG" and "=" in a
            for k, v in [a.split("=", 1)]}  # fmt: skip
    floor = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert re.fullmatch(rf"python:{re.escape(floor)}-slim(-\w+)?", args["PYTHON_IMAGE"])
    # Spark's entrypoint comes from the Spark image of the pyspark pin
    pyspark = next(d for d in PYPROJECT["project"]["optional-dependencies"]["spark"]
                   if d.startswith("pyspark=="))  # fmt: skip
    assert args["SPARK_IMAGE"].endswith(":" + pyspark.split("==")[1])


def test_image_runs_as_a_non_root_user_with_no_secrets() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "crawler", "a build without --target must make the crawler"
    for name in ("crawler", "spark"):
        users = [args for instr, args in stage_chain(name) if instr == "USER"]
        assert users and users[-1] not in ("root", "0"), name
    text = DOCKERFILE.read_text()
    for instr, args in dockerfile_instructions():
        if instr in ("ENV", "ARG"):
            assert not re.search(r"PASSWORD|SECRET|TOKEN|REDIS_URL|ACCESS_KEY", args, re.I), args
    assert "redis://" not in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env", "out"} <= set(ignored)
    # every image tag in the recipes is this version
    tags = {c["image"] for _, c, _ in k8s_containers() if "linkcrawl" in c["image"]}
    tags |= {s["image"] for _, s in compose_containers() if "linkcrawl" in s.get("image", "")}
    assert tags <= OUR_IMAGES, tags


def test_operations_doc_says_the_recipes_were_not_started_here() -> None:
    text = OPERATIONS.read_text()
    assert "no container engine" in text.lower()
    for figure in ("9.5", "67.5", "150"):  # docs/benchmarks.md's frontier figures
        assert figure in text, figure
    assert "linkcrawl frontier status" in text
