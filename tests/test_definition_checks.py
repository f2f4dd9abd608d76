"""One rule for checking process files: `yijianshi validate`, `yijianshi deploy` and the web upload
run the same checks (deploy validation, designer lint, department registry) against the project's
processes/registry.json, wherever the files are; --registry chooses another registry; no registry is
an error with a sentence, never a skipped check."""
from __future__ import annotations

import json

import pytest

from yijianshi.cli.main import main
from yijianshi.engine.errors import DefinitionError
from yijianshi.engine.modeling.registry import PROJECT_REGISTRY, registry_for_checks
from tests.conftest import FIXTURES

GOOD = (FIXTURES / "parallel_review.bpmn").read_text(encoding="utf-8")
# A department the project's registry does not know.
UNREGISTERED = GOOD.replace('camunda:candidateGroups="market"', 'camunda:candidateGroups="tax_bureau"')
NOT_REGISTERED = "“tax_bureau”（camunda:candidateGroups）未在 registry.json 登记"


@pytest.fixture
def outside(tmp_path):
    """A folder outside processes/ with no registry.json of its own."""
    folder = tmp_path / "drafts"
    folder.mkdir()
    return folder


def test_the_project_registry_is_the_default():
    assert registry_for_checks().path == str(PROJECT_REGISTRY)
    assert PROJECT_REGISTRY.parent.name == "processes" and PROJECT_REGISTRY.is_file()


def test_no_registry_is_an_error_that_says_so(tmp_path):
    with pytest.raises(DefinitionError) as err:
        registry_for_checks(tmp_path / "missing.json")
    assert "找不到部门登记表" in err.value.problems[0].message
    assert "--registry" in err.value.problems[0].message


def test_validate_outside_processes_checks_the_departments(outside, capsys):
    bad = outside / "review.bpmn"
    bad.write_text(UNREGISTERED, encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert NOT_REGISTERED in err and f"{bad}:" in err

    good = outside / "good.bpmn"
    good.write_text(GOOD, encoding="utf-8")
    assert main(["validate", str(good)]) == 0
    assert "全部有效" in capsys.readouterr().out


def test_validate_with_another_registry(outside, capsys):
    bad = outside / "review.bpmn"
    bad.write_text(UNREGISTERED, encoding="utf-8")
    entries = json.loads(PROJECT_REGISTRY.read_text(encoding="utf-8"))["entries"]
    entries.append({"code": "tax_bureau", "name": "税务分局", "kind": "department"})
    registry = outside / "other.json"
    registry.write_text(json.dumps({"entries": entries}, ensure_ascii=False), encoding="utf-8")
    assert main(["validate", "--registry", str(registry), str(bad)]) == 0

    assert main(["validate", "--registry", str(outside / "missing.json"), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{outside / 'missing.json'}:" in err and "找不到部门登记表" in err and "Traceback" not in err


def test_deploy_applies_the_lint_and_the_registry_and_writes_nothing(outside, db_url, capsys):
    assert main(["--db", db_url, "db", "upgrade"]) == 0
    bad = outside / "review.bpmn"
    bad.write_text(UNREGISTERED, encoding="utf-8")
    assert main(["--db", db_url, "deploy", str(bad)]) == 1
    err = capsys.readouterr().err
    assert NOT_REGISTERED in err and "部署未执行" in err
    assert main(["--db", db_url, "definitions"]) == 0
    assert "尚未部署任何流程" in capsys.readouterr().out

    # A lint problem alone (a user task without a form) blocks the deploy too, as on the web.
    form = ('      <bpmn:extensionElements><camunda:formData>\n'
            '        <camunda:formField id="delivered" label="已送达" type="boolean" />\n'
            '        </camunda:formData></bpmn:extensionElements>\n')
    assert GOOD.count(form) == 1
    bad.write_text(GOOD.replace(form, ""), encoding="utf-8")
    assert main(["--db", db_url, "deploy", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "[deliver] 用户任务既没有表单" in err and "部署未执行" in err

    assert main(["--db", db_url, "deploy", "--registry", str(outside / "missing.json"), str(bad)]) == 1
    assert "找不到部门登记表" in capsys.readouterr().err

    bad.write_text(GOOD, encoding="utf-8")
    assert main(["--db", db_url, "deploy", str(bad)]) == 0
    assert "parallel_review v1" in capsys.readouterr().out
