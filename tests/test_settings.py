"""The settings machinery: declared fields, one validation message, JSON round trip, CLI."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from napari_cebra.cli._options import add_options, settings_from_args
from napari_cebra.settings import Settings, SettingsError, fields_of, setting


@dataclass
class Toy(Settings):
    steps: int = setting(10, min=1, max=100, unit="steps", help="how many steps")
    rate: float = setting(0.5, min=0.0, max=1.0, help="a rate")
    mode: str = setting("a", choices=("a", "b"), help="which mode")
    flag: bool = setting(False, help="a switch")
    seed: int | None = setting(0, min=0, max=9, none="random", help="seed")
    where: Path | None = setting(None, help="a file", cli="--file")
    note: str = "internal"  # a plain field: not a setting


def test_fields_carry_their_declaration():
    by_name = {f.name: f for f in fields_of(Toy)}
    assert list(by_name) == ["steps", "rate", "mode", "flag", "seed", "where"]
    assert by_name["steps"].rule() == "1 to 100 steps"
    assert by_name["mode"].rule() == "one of 'a', 'b'"
    assert by_name["seed"].optional and by_name["seed"].type is int
    assert by_name["where"].cli == "--file" and by_name["steps"].cli == "--steps"


@pytest.mark.parametrize(("changes", "words"), [
    ({"steps": 0}, "steps = 0 must be 1 to 100 steps (how many steps)"),
    ({"steps": 2.5}, "steps = 2.5 must be a whole number"),
    ({"rate": float("nan")}, "rate = nan must be a number"),
    ({"mode": "c"}, "mode = 'c' must be one of 'a', 'b' (which mode)"),
    ({"flag": 1}, "flag = 1 must be true or false"),
    ({"seed": 10}, "seed = 10 must be 0 to 9"),
])
def test_one_message_names_the_setting_value_and_rule(changes, words):
    with pytest.raises(SettingsError) as err:
        Toy(**changes)
    assert str(err.value).startswith(f"Toy: {words}")


def test_json_round_trip_ignores_unknown_keys_and_refuses_bad_values(tmp_path):
    toy = Toy(steps=7, rate=0.25, mode="b", flag=True, seed=None, where=tmp_path / "x.npy")
    assert Toy.from_json(toy.to_json()) == toy
    assert Toy.from_dict({"steps": 3.0, "engine_only": 1}).steps == 3  # leniency kept
    with pytest.raises(SettingsError, match="steps = 'many' must be a whole number"):
        Toy.from_dict({"steps": "many"})
    with pytest.raises(SettingsError, match="not a JSON object"):
        Toy.from_json("{damaged")


def test_cli_options_come_from_the_declaration(capsys):
    parser = argparse.ArgumentParser(prog="toy")
    add_options(parser, Toy)
    args = parser.parse_args(["--steps", "5", "--mode", "b", "--flag", "--seed", "random",
                              "--file", "f.npy"])
    assert settings_from_args(Toy, args) == Toy(steps=5, mode="b", flag=True, seed=None,
                                                where=Path("f.npy"))
    assert settings_from_args(Toy, parser.parse_args([])) == Toy()
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "500"])
    assert "steps = 500 must be 1 to 100 steps" in capsys.readouterr().err
    parser.print_help()
    text = " ".join(capsys.readouterr().out.split())
    assert "how many steps (1 to 100 steps; default 10)" in text
    assert "seed (0 to 9 or random; default 0)" in text
