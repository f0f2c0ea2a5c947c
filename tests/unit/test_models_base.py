"""The estimator style of every model: results, exports, comparison, registry."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from proximite.cohort.models import MODELS, Model, ModelError, ModelResults, compare, get_model, register

matplotlib.use("Agg")


def results(model: str, estimates: dict[str, float], nobs: int = 10) -> ModelResults:
    summary = pd.DataFrame(
        {
            "estimate": estimates,
            "std_error": {term: 0.5 for term in estimates},
            "ci_lower": {term: value - 1 for term, value in estimates.items()},
            "ci_upper": {term: value + 1 for term, value in estimates.items()},
            "p_value": {term: 0.04 for term in estimates},
        }
    )
    return ModelResults(model, summary, {"nobs": nobs}, title=f"{model} title", extra={"curve": pd.DataFrame({"t": [1, 2]})})


def test_a_summary_without_the_standard_columns_is_refused() -> None:
    with pytest.raises(ModelError, match="lacks the column\\(s\\) ci_lower, ci_upper"):
        ModelResults("x", pd.DataFrame({"estimate": [1.0], "std_error": [0.1], "p_value": [0.5]}))


def test_str_exports_and_plot(tmp_path: Path) -> None:
    fitted = results("panel_ols", {"a": 1.0, "b": -2.0})
    text = str(fitted)
    assert text.splitlines()[0] == "panel_ols title" and "nobs: 10" in text and "curve:" in text
    assert fitted.summary.index.name == "term"
    written = fitted.to_csv(tmp_path / "out" / "fit.csv")
    assert pd.read_csv(written, index_col="term")["estimate"].to_dict() == {"a": 1.0, "b": -2.0}
    assert pd.read_csv(tmp_path / "out" / "fit.statistics.csv")["nobs"].tolist() == [10]
    assert pd.read_csv(tmp_path / "out" / "fit.curve.csv")["t"].tolist() == [1, 2]
    html = fitted.to_html(tmp_path / "fit.html")
    assert "<h2>panel_ols title</h2>" in html and (tmp_path / "fit.html").read_text(encoding="utf-8") == html
    assert "\\begin{tabular}" in fitted.to_latex(tmp_path / "fit.tex")
    ax = fitted.plot()
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b"]


def test_compare_aligns_terms_and_names_repeated_models() -> None:
    first = results("ols", {"a": 1.0, "b": 2.0}, nobs=10)
    second = results("ols", {"b": 3.0, "c": 4.0}, nobs=12)
    comparison = compare(first, second)
    assert list(comparison.summary.index) == ["a", "b", "c"]
    assert comparison.summary[("ols (1)", "estimate")].tolist()[:2] == [1.0, 2.0]
    assert pd.isna(comparison.summary.loc["c", ("ols (1)", "estimate")])
    assert comparison.summary.loc["b", ("ols (2)", "estimate")] == 3.0
    assert comparison.statistics["nobs"].tolist() == [10, 12]
    assert "1 (0.5)" in str(comparison)
    comparison.plot()
    with pytest.raises(ModelError, match="2 name\\(s\\) for 1 result"):
        compare(first, names=["a", "b"])


def test_registry_from_spec_and_unknown_kinds() -> None:
    @register("test_constant")
    class Constant(Model):
        def __init__(self, *, value: float = 1.0) -> None:
            self.value = value

        def fit(self, data: pd.DataFrame) -> ModelResults:
            return results(self.kind, {"value": self.value}, nobs=len(data))

    try:
        assert get_model("test_constant") is Constant and Constant.kind == "test_constant"
        fitted = Constant.from_spec({"value": 3.0}).fit(pd.DataFrame({"x": [1, 2]}))
        assert fitted.summary.loc["value", "estimate"] == 3.0 and fitted.statistics["nobs"] == 2
        with pytest.raises(ModelError, match="unknown option\\(s\\) vale; it takes value"):
            Constant.from_spec({"vale": 3.0})
        with pytest.raises(ModelError, match="registered twice"):
            register("test_constant")(type("Other", (Constant,), {}))
    finally:
        MODELS.pop("test_constant")
    with pytest.raises(ModelError, match="unknown model kind 'nope'; the kinds are: .*panel_ols"):
        get_model("nope")
