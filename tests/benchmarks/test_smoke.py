"""Every script under benchmarks/ runs in its smoke mode (issue 27 item 6: no benchmark can rot), and
none writes into the committed results by default (item 5).

One test per script: `python benchmarks/<script>.py --smoke ...` as a user types it, from the
repository root, its output folder (where it has one) under pytest's tmp_path; the test checks the
exit status and the script's last line. Scripts whose smoke run takes more than ~20 s on the 2-core
machine are marked `slow` (run them with `python -m pytest -m slow tests/benchmarks/test_smoke.py`);
the vLLM half of generation.py is marked `vllm`; the sandbox scripts' bwrap and docker runs carry
the `bwrap` / `docker` markers and skip where the backend is unavailable, as tests/sandboxes does.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
import outdir  # noqa: E402

slow, vllm = pytest.mark.slow, pytest.mark.vllm


def case(script: str, args: list[str], last: str, *marks, out: bool = False, timeout: int = 300,
         backend: str | None = None, id: str | None = None):
    """One smoke run: `args` after --smoke (plus --out when `out`), `last`: a regex the last line
    of its output must match; `backend`: a sandbox backend that must be available."""
    return pytest.param(script, args, last, out, timeout, backend, marks=marks, id=id or script)


CASES = [
    case("check_pairing", [], r"check_pairing: ok"),
    case("paired_finals", [], r"^\s+spo_tree .*minus grpo"),
    case("sweep_io", [], r'\{"cpu": .*"commit"'),
    case("cpi_theory", [], r"sample_complexity_slope=-?\d+\.\d+ improvement_slope=-?\d+\.\d+", out=True),
    case("tabular_agents", [], r"wrote .*results\.json", out=True),
    case("reset_map", ["--lm", "benchmarks/results/reset_chain"], r"reset_map: tabular caro-1x8 d1=\S+ d5=\S+ lm_points=\d+", out=True),
    case("prefix_tokens", [], r"prompt \d+ tok, suffix ~60, 2 prompts: .*x fewer"),
    case("generation", ["--backends", "hf"], r"vllm_over_hf=na prefix_cache_hit=na"),
    case("generation", [], r"vllm_over_hf=\d+\.\d+ prefix_cache_hit=", vllm, timeout=600, id="generation-vllm"),
    case("rollout_engine", ["--graph"], r"loop_vs_raw=\d+\.\d+ gen_vllm_vs_hf=\d+\.\d+ step_vllm_vs_hf=\d+\.\d+ "
         r"engine_start_s=\d+\.\d+ sync_s=\d+\.\d+ graph_vs_step=\d+\.\d+ gen_graph_vs_hf=\d+\.\d+$", vllm,
         timeout=600),
    case("backend_agreement", [], r"backend_agreement: hf_tokens=\d+\.\d+ vllm_tokens=\d+\.\d+ z=-?(\d+\.\d+|nan) "
         r"hf_pass=\d\.\d+ vllm_pass=\d\.\d+ n=\d+$", vllm, timeout=600),
    # without trl installed: our side runs, then one line says TRL was skipped
    case("trl_peer", [], r"^(trl_s_per_ktok=\d+\.\d+ ours_s_per_ktok=\d+\.\d+ ratio=\d+\.\d+|"
         r"trl_peer: skipped: trl is not installed .*)$"),
    case("mc_oracle", [], r"wrote .*summary\.json and .*output\.txt", out=True),
    case("first_errors", [], r"first_errors: pass_rate=\d\.\d+ failures=\d+", slow, out=True),
    case("localization_probe", [], r"parse_fail=\d\.\d+ budget_out=\d\.\d+ n=2 budget=8"),
    case("step_throughput", [], r"step_speedup=\d+\.\d+ gen_rows_per_call=", slow),
    case("step_throughput", ["--vllm"], r"step_speedup=\d+\.\d+ gen_rows_per_call=", vllm, timeout=600,
         id="step_throughput-vllm"),
    case("learning_control", [], r"val_start=\d\.\d+ val_end=\d\.\d+ .* seeds=1 steps=1", slow, out=True),
    case("tiny_lm_comparison", [], r"tiny_lm_comparison: final val pass@1 grpo=", slow, out=True, timeout=600),
    # the three below have no --smoke of their own (other owners' files): their small modes. The
    # sandbox_stress lines accept any leftover count: the script counts every sandbox's processes,
    # tmp dirs and cgroups on the machine, other tests' included (its full run checks them).
    case("agent_comparison", "AGENT_COMPARISON", r"agent_comparison\[arith\]", slow, timeout=600),
    case("sandbox_stress", ["--runs", "60", "--backends", "local", "--workers", "1"],
         r"local: false_fails=0 false_passes=0 sandbox_errors=0 leftovers=\d+", backend="local", id="sandbox_stress-local"),
    case("sandbox_stress", ["--runs", "60", "--backends", "bwrap", "--workers", "1"],
         r"bwrap: false_fails=0 false_passes=0 sandbox_errors=0 leftovers=\d+", slow, pytest.mark.bwrap,
         backend="bwrap", id="sandbox_stress-bwrap"),
    case("sandbox_stress", ["--runs", "60", "--backends", "docker", "--workers", "1"],
         r"docker: false_fails=0 false_passes=0 sandbox_errors=0 leftovers=\d+", slow, pytest.mark.docker,
         backend="docker", id="sandbox_stress-docker"),
    case("sandbox_throughput", ["--rounds", "1", "--backends", "local", "--workers", "2"],
         r"local_over_humaneval=\d+\.\d+ docker_over_humaneval=na", slow, backend="local"),
]
NO_SMOKE_FLAG = {"agent_comparison", "sandbox_stress", "sandbox_throughput"}


def agent_comparison_args(tmp_path: Path) -> list[str]:
    """agent_comparison.py's small mode (it has no --smoke): GRPO x one seed x one step of the arith
    preset from the random tiny model, its sweep and report in tmp_path."""
    return ["--preset", "arith", "--model", "tiny", "--agents", "grpo", "--seeds", "0", "--workers", "1",
            "--sweep-dir", str(tmp_path / "sweep"), "--out", str(tmp_path / "out"),
            *(f"--override={o}" for o in ("trainer.steps=1", "trainer.prompts_per_step=2", "validation.every=1",
                                          "validation.max_tasks=4", "env.suite_options.n=4",
                                          "trainer.checkpoint_every=1"))]


def run_script(script: str, args: list[str], timeout: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, str(BENCH / f"{script}.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script, args, last, out, timeout, backend", CASES)
def test_smoke(script, args, last, out, timeout, backend, tmp_path):
    if backend is not None:
        from sandboxes.backends import make_backend

        if (reason := make_backend(backend).unavailable()) is not None:
            pytest.skip(f"{backend} backend unavailable here: {reason}")
    if args == "AGENT_COMPARISON":
        args = agent_comparison_args(tmp_path)
    argv = [*([] if script in NO_SMOKE_FLAG else ["--smoke"]), *args]
    if out:
        argv += ["--out", str(tmp_path / "out")]
    proc = run_script(script, argv, timeout)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script} {' '.join(argv)} exited {proc.returncode}:\n{text[-4000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines and re.search(last, lines[-1]), f"{script}: last line {lines[-1:]!r}\n{text[-3000:]}"
    if out:
        assert any((tmp_path / "out").iterdir()), f"{script} wrote nothing to its --out"


# --- item 5: the committed results are written only when asked -------------------------------------

SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "outdir")
# reads, never writes: the committed runs localization_probe samples failures from by default
READS_RESULTS = {"localization_probe": {"benchmarks/results/ref_basic_smollm2/runs"}}


def results_strings(path: Path) -> set[str]:
    """String constants of a script's code (not its docstrings) that name benchmarks/results."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and "benchmarks/results" in n.value and id(n) not in docs}


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_default_writes_into_committed_results(script):
    """No script names a folder under benchmarks/results/ in its code (defaults included), except
    the committed runs it only reads; output folders come from `outdir.resolve`."""
    assert results_strings(BENCH / f"{script}.py") <= READS_RESULTS.get(script, set())


def test_every_script_has_a_smoke_case():
    assert {c.values[0] for c in CASES} == set(SCRIPTS)


def test_out_defaults_to_runs_or_a_temp_folder_and_smoke_never_writes_results(tmp_path, monkeypatch):
    assert outdir.resolve(None, "x") == outdir.RUNS / "x"
    smoke = outdir.resolve(None, "x", smoke=True)
    assert smoke.is_dir() and not outdir.in_results(smoke) and not smoke.is_relative_to(ROOT)
    smoke.rmdir()
    monkeypatch.chdir(ROOT)
    asked = Path("benchmarks/results/cpi_theory")
    assert outdir.resolve(asked, "cpi_theory") == asked            # explicit --out: written
    assert outdir.in_results(asked) and outdir.in_results(ROOT / asked)
    with pytest.raises(SystemExit, match="smoke"):
        outdir.resolve(asked, "cpi_theory", smoke=True)
    assert outdir.resolve(tmp_path, "x", smoke=True) == tmp_path
    assert not outdir.in_results(tmp_path) and not outdir.in_results(Path("runs/benchmarks/x"))
