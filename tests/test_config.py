"""Experiment configs: TOML and JSON into frozen dataclasses through one validation path,
overrides, and every error message."""

import dataclasses
import json

import pytest

from jaxlstm.train import config
from jaxlstm.train.config import Config, ConfigError, ConfigTypeError, load


def write(tmp_path, text, name="exp.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_declared_once_and_frozen():
    cfg = load(None)
    assert cfg == Config()
    assert cfg.task.name == "erg" and cfg.task.make().output == "sigmoid"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.optim.lr = 1.0


def test_toml_sections_task_options_and_overrides(tmp_path):
    path = write(tmp_path, """
[model]
hidden_size = 8
variant = "CIFG"
[task]
name = "adding"
length = 20
form = "modern"
[optim]
lr = 1          # an integer is a number
schedule = "cosine"
[train]
max_length = 22
""")
    cfg = load(path, ["optim.lr=3e-3", "model.variant=NFG", "task.length=30", "train.reset_state=true"])
    assert cfg.model.hidden_size == 8 and cfg.model.variant == "NFG"
    assert cfg.optim.lr == 3e-3 and cfg.optim.schedule == "cosine"
    assert cfg.task.make().length == 30 and cfg.task.make().form == "modern"
    assert cfg.train.reset_state is True and cfg.train.steps == Config().train.steps
    assert load(path).optim.lr == 1.0 and isinstance(load(path).optim.lr, float)


def test_json_round_trip():
    cfg = load(None, ["task.name=cerg", "task.length=77", "model.shortcut=true"])
    text = config.to_json(cfg)
    assert json.loads(text)["task"] == {"name": "cerg", "length": 77}
    assert config.from_json(text) == cfg


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda d: d["model"].update(hidden_size="8"), ConfigTypeError,
     r"run/config\.json: model\.hidden_size must be an integer; got '8' \(str\)"),
    (lambda d: d["model"].update(impl="fast"), ConfigError, r"model\.impl must be one of \['auto', 'reference'"),
    (lambda d: d["train"].update(steps=0), ConfigError, r"train\.steps must be a positive integer; got 0"),
    (lambda d: d["model"].update(colour=1), ConfigError, r"unknown key model\.colour"),
    (lambda d: d.update(train=[]), ConfigError, r"train must be a table \[train\]"),
])
def test_json_goes_through_the_same_checks_as_toml(change, error, match):
    data = json.loads(config.to_json(Config()))
    change(data)
    with pytest.raises(error, match=match):
        config.from_json(json.dumps(data), "run/config.json")
    with pytest.raises(ConfigError, match=r"run/config\.json: not valid JSON"):
        config.from_json("{", "run/config.json")


def test_the_core_options_are_the_configs_choices():
    from jaxlstm import options

    assert config.load(None, ["model.remat=sqrt", "model.impl=fused"]).model.remat == "sqrt"
    with pytest.raises(ConfigError, match=rf"model\.impl must be one of {list(options.IMPLS)}".replace("[", r"\[")):
        config.load(None, ["model.impl=tpu"])
    with pytest.raises(ConfigError, match=r"model\.impl must be one the trainer can vmap .*; got 'cudnn'"):
        config.load(None, ["model.impl=cudnn"])


@pytest.mark.parametrize(("toml", "overrides", "error", "match"), [
    ("[modle]\nhidden_size = 3\n", [], ConfigError,
     r"exp\.toml: unknown section \[modle\]; expected sections \['eval', 'model', 'optim', 'parallel', 'ppo', 'task', 'train'\]"),
    ("[model]\nhiden_size = 3\n", [], ConfigError,
     r"exp\.toml: unknown key model\.hiden_size; expected one of \['hidden_size'"),
    ("[model]\nhidden_size = \"8\"\n", [], ConfigTypeError,
     r"exp\.toml: model\.hidden_size must be an integer; got '8' \(str\)"),
    ("[model]\nshortcut = 1\n", [], ConfigTypeError, r"model\.shortcut must be true or false; got 1 \(int\)"),
    ("[train]\nsteps = 1.5\n", [], ConfigTypeError, r"train\.steps must be an integer; got 1\.5"),
    ("[train]\nsteps = true\n", [], ConfigTypeError, r"train\.steps must be an integer; got True"),
    ("[train]\nsteps = 0\n", [], ConfigError, r"exp\.toml: train\.steps must be a positive integer; got 0"),
    ("[optim]\nlr = -0.1\n", [], ConfigError, r"optim\.lr must be a positive number; got -0\.1"),
    ("[optim]\noptimizer = \"adagrad\"\n", [], ConfigError,
     r"optim\.optimizer must be one of \['adam', 'adamw', 'sgd', 'rmsprop'\]; got 'adagrad'"),
    ("[model]\nvariant = \"GRU\"\n", [], ConfigError, r"model\.variant must be one of \[.*'CIFG'.*\]; got 'GRU'"),
    ("[model]\ndropout = 1.0\n", [], ConfigError, r"model\.dropout must be in \[0, 1\); got 1\.0"),
    ("[task]\nname = \"mnist\"\n", [], ConfigError, r"task\.name must be one of \['adding', 'cerg'.*got 'mnist'"),
    ("[task]\nname = \"adding\"\nlenght = 3\n", [], ConfigError,
     r"unknown key task\.lenght for task 'adding'; expected one of \['name', 'length', 'form'\]"),
    ("[task]\nname = \"adding\"\nlength = 5\n", [], ConfigError, r"exp\.toml: task: Adding\.length must be >= 12"),
    ("[task]\nname = \"adding\"\nlength = \"long\"\n", [], ConfigTypeError, r"task\.length must be an integer"),
    ("model = 3\n", [], ConfigError, r"model must be a table \[model\]; got 3"),
    ("[model\n", [], ConfigError, r"exp\.toml: not valid TOML"),
    ("", ["optim.lr"], ConfigError, r"--set 'optim\.lr': expected section\.key=value, e\.g\. --set optim\.lr=1e-3"),
    ("", ["lr=3"], ConfigError, r"--set 'lr=3': expected section\.key=value"),
    ("", ["optim.lr=fast"], ConfigTypeError, r"exp\.toml with --set optim\.lr=fast: optim\.lr must be a number; got 'fast'"),
    ("", ["train.sedes=3"], ConfigError, r"unknown key train\.sedes; expected one of"),
])
def test_errors_name_the_file_the_key_and_what_was_expected(tmp_path, toml, overrides, error, match):
    with pytest.raises(error, match=match):
        load(write(tmp_path, toml), overrides)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match=r"config file nowhere\.toml does not exist\. Hint: the experiments"):
        load("nowhere.toml")
