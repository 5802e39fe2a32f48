"""The ``extended`` LF set: the rubric's cues beyond the paper's seeds.

Seed APIs and markdown keywords live in ``seeds/extended.yaml``; the LFs here read the
cell's structure (``cellfacts``, one graph walk per cell shared by all of them). They are
written to be precise rather than to cover (an abstain costs less than a wrong vote) and,
for the LabelModel's sake, mutually exclusive where they share a cue: looking at data vs
preparing then showing it, plots of data vs plots of model output, fitting vs scoring.
``docs/results.md`` has each LF's coverage and accuracy on the dev sets.
"""

from __future__ import annotations

import re

from snorkel.labeling import LabelingFunction, labeling_function

from coral.corpora.records import ParsedCell
from coral.labeling.lfs.cellfacts import CellFacts, Statement, identifier_words, cell_facts
from coral.labeling.seedfiles import SEEDS_DIR, load_seed_lfs
from coral.stages import ABSTAIN, Stage

SETUP_CALLS = {
    "filterwarnings", "simplefilter", "set_option", "use", "set", "set_style", "set_theme", "set_context",
    "set_palette", "seed", "manual_seed", "set_seed", "append", "insert", "chdir", "init_notebook_mode",
    "load_ext", "rc", "style", "config", "disable_eager_execution", "basicConfig", "mount", "update",
    "set_printoptions", "reload", "InteractiveShell", "output_notebook",
}
SHOW_CALLS = {
    "print", "display", "head", "tail", "describe", "info", "value_counts", "unique", "nunique", "sample",
    "corr", "mean", "median", "std", "var", "sum", "count", "max", "min", "isnull", "isna", "notnull", "shape",
    "nlargest", "nsmallest", "crosstab", "pivot_table", "agg", "aggregate", "size", "round", "len", "type",
    "keys", "items", "values", "get_feature_names", "summary", "sort_values", "groupby", "quantile", "dtypes",
    "format", "pprint", "HTML", "Markdown", "Image", "any", "all", "cov", "idxmax", "idxmin", "tolist",
}
# Methods that load or reshape data, as opposed to summarising it.
PREPARE_CALLS = {
    "read_csv", "read_excel", "read_json", "read_table", "read_sql", "read_pickle", "read_parquet", "read_hdf",
    "load", "loadtxt", "genfromtxt", "open", "drop", "dropna", "fillna", "rename", "replace", "astype", "merge",
    "concat", "join", "get_dummies", "apply", "map", "applymap", "set_index", "reset_index", "to_datetime",
    "to_numeric", "reshape", "pivot", "melt", "stack", "unstack", "drop_duplicates", "DataFrame", "Series",
    "array", "split", "strip", "lower", "transform", "fit_transform", "cut", "qcut", "interpolate", "resample",
    "vstack", "hstack", "concatenate", "append", "extend", "insert", "copy", "explode", "str", "where", "clip",
    "train_test_split", "to_categorical", "LabelEncoder", "StandardScaler", "MinMaxScaler", "OneHotEncoder",
}
LOAD_CALLS = {"open", "read", "readlines", "reader", "load", "loadtxt", "read_csv", "read_json", "get", "urlopen"}
# Aggregations: a cell that binds one and shows it is looking at data (rubric: "a transformation
# done only so its result can be looked at" is EXPLORE).
AGGREGATE_CALLS = {
    "groupby", "mean", "median", "sum", "count", "value_counts", "agg", "aggregate", "pivot_table", "crosstab",
    "describe", "std", "var", "size", "nunique", "corr", "quantile",
}
SUMMARY_FINISHING_CALLS = {"reset_index", "apply", "round"}  # turn a summary into a table, not new data
PLOT_CALLS = {
    "plot", "scatter", "hist", "bar", "barh", "boxplot", "imshow", "show", "pie", "heatmap", "distplot",
    "pairplot", "countplot", "barplot", "histplot", "lineplot", "scatterplot", "violinplot", "kdeplot",
    "jointplot", "lmplot", "catplot", "regplot", "displot", "relplot", "stripplot", "swarmplot", "plot_surface",
    "contour", "contourf", "errorbar", "fill_between", "scatter3D", "plot3D", "matshow", "stem", "step",
    "hexbin", "violin", "FacetGrid", "PairGrid", "iplot", "Chart", "scatter_matrix", "plot_date", "semilogy",
    "loglog", "semilogx", "qqplot", "probplot", "plot_diagnostics", "plot_predict", "plot_regress_exog",
    "plot_partregress_grid", "plot_fit", "plot_importance", "plot_tree", "plot_model",
}
FIT_CALLS = {"fit", "fit_generator", "partial_fit", "train", "backward", "compile", "fit_transform_model", "train_on_batch"}
PREDICT_CALLS = {"predict", "predict_proba", "predict_classes", "predict_log_proba", "decision_function", "forecast"}
METRIC_CALLS = {
    "score", "evaluate", "accuracy_score", "confusion_matrix", "classification_report", "f1_score",
    "mean_squared_error", "mean_absolute_error", "r2_score", "roc_auc_score", "roc_curve", "precision_score",
    "recall_score", "cross_val_score", "cross_validate", "ttest_ind", "ttest_rel", "ttest_1samp", "log_loss",
    "precision_recall_curve", "auc", "chi2_contingency", "mannwhitneyu", "f_oneway", "kstest", "shapiro",
    "pearsonr", "spearmanr", "learning_curve", "validation_curve", "explained_variance_score", "conf_int",
    # statistical tests (scipy.stats, statsmodels): significance testing is EVALUATE by the rubric
    "chisquare", "wilcoxon", "kruskal", "levene", "bartlett", "normaltest", "fisher_exact", "ztest",
    "proportions_ztest", "anova_lm", "pairwise_tukeyhsd", "adfuller", "jarque_bera", "ttest",
}
MODEL_CONSTRUCTOR = re.compile(
    r"(Regress(ion|or)(CV)?|Classifier(CV)?|SVC|SVR|KMeans|PCA|NB|Sequential|Lasso(CV)?|Ridge(CV)?|ElasticNet(CV)?|"
    r"Forest|Boost|Net|Model|GridSearchCV|RandomizedSearchCV|Pipeline|DBSCAN|TSNE|GaussianMixture|Prophet|ols|"
    r"logit|LogisticRegressionCV|Word2Vec|LdaModel|ARIMA|SARIMAX|MiniBatchKMeans|AgglomerativeClustering|"
    r"LinearDiscriminantAnalysis|NMF|TruncatedSVD|Perceptron|MLPClassifier|XGBClassifier|XGBRegressor)$"
)
MODEL_BASES = {"Module", "Model", "Layer", "BaseEstimator", "LightningModule"}
# Words in identifiers that name what a fitted model produced (y_pred, rmse, history...).
MODEL_RESULT_WORDS = {
    "pred", "preds", "predict", "predicted", "prediction", "predictions", "yhat", "score", "scores", "accuracy",
    "acc", "error", "mse", "rmse", "mae", "mape", "r2", "f1", "auc", "roc", "fpr", "tpr", "loss",
    "losses", "history", "residual", "residuals", "resid", "coef", "coefs", "coefficients", "pvalue", "pvalues",
    "pval", "importance", "importances", "confusion", "precision", "recall", "forecast", "fitted", "cm",
}
FITTED_ATTRIBUTES = {
    "coef_", "intercept_", "feature_importances_", "best_params_", "best_score_", "best_estimator_",
    "cv_results_", "explained_variance_ratio_", "oob_score_", "resid", "pvalues", "rsquared", "rsquared_adj",
    "cluster_centers_", "labels_", "dual_coef_", "support_vectors_", "components_", "history", "fittedvalues",
    "bse", "tvalues", "aic", "bic", "inertia_",
}
PLOT_LIBRARIES = ("matplotlib.", "seaborn.", "plotly.", "altair.", "bokeh.", "missingno.", "pandas.plotting.")
METRIC_MODULES = ("sklearn.metrics.", "statsmodels.stats.", "scipy.stats.ttest", "sklearn.model_selection.cross_val")
# Words in identifiers that name a model object (clf, regressor, kmeans...).
MODEL_OBJECT_WORDS = {
    "model", "models", "clf", "classifier", "regressor", "estimator", "reg", "lm", "svm", "knn", "net",
    "network", "kmeans", "km", "gs", "forest", "rf", "xgb", "lr", "logreg", "nn",
}
# Words in the names of functions a cell defines: a loss, a gradient, a forward pass or a
# training step is modeling written by hand; an error or a score computed by hand is evaluation.
MODEL_FUNCTION_WORDS = {
    "loss", "cost", "gradient", "gradients", "grad", "sigmoid", "softmax", "relu", "tanh", "forward", "backward",
    "backprop", "propagate", "propagation", "train", "training", "fit", "weights", "initialize", "initialise",
    "activation", "likelihood", "optimize", "optimizer", "descent", "epoch", "neuron", "perceptron", "regression",
    "classifier", "model", "predict", "simulate", "simulation", "network", "layer", "posterior", "prior",
}
METRIC_FUNCTION_WORDS = {
    "mae", "mse", "rmse", "mape", "accuracy", "evaluate", "evaluation", "score", "error", "errors", "metric",
    "metrics", "precision", "recall", "f1", "auc", "roc", "confusion", "residual", "residuals",
}
# Identifier words of a hand-written training loop: epochs over a loss, gradients or weights.
EPOCH_WORDS = {"epoch", "epochs", "nepochs", "numepochs", "iteration", "iterations"}
TRAINING_WORDS = {"loss", "losses", "grad", "grads", "gradient", "gradients", "weights", "optimizer", "backprop"}
TRAINING_CALLS = {"train_on_batch", "apply_gradients", "backward", "zero_grad"}
HYPERPARAMETER_WORDS = {"param", "params", "grid", "hyperparameters", "hyperparams"}
CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _is_setup(statement: Statement) -> bool:
    if statement.kind in ("import", "magic"):
        return True
    if statement.kind == "call":
        return statement.callee in SETUP_CALLS
    if statement.kind == "assign":  # a constant (not ``X = vectorizer.fit_transform(...)``)
        constant = len(statement.target) > 1 and CONSTANT_NAME.match(statement.target) and not statement.callee
        return bool(constant) or statement.target in ("device", "DEVICE")
    return False


def _setup_only(facts: CellFacts) -> bool:
    """Every statement is set-up: the cells ``ext_setup_only`` (and no other LF) votes for."""
    return bool(facts.statements) and all(map(_is_setup, facts.statements))


def _shows(statement: Statement) -> bool:
    """The statement's purpose is to show something: a displayed value, a print, a summary."""
    return statement.kind == "display" or (statement.kind == "call" and statement.callee in SHOW_CALLS)


def _plots(x: ParsedCell, facts: CellFacts) -> bool:
    """Calls a plotting function, or anything of a plotting library but its set-up calls, in
    a cell that is not mostly imports (a set-up cell may define a figure-saving helper)."""
    if x.imports * 2 >= x.statements:
        return False
    if facts.methods & PLOT_CALLS:
        return True
    return any(api.startswith(PLOT_LIBRARIES) and api.rsplit(".", 1)[-1] not in SETUP_CALLS for api in x.apis)


def _scores(x: ParsedCell, facts: CellFacts) -> bool:
    return bool(facts.methods & METRIC_CALLS) or any(api.startswith(METRIC_MODULES) for api in x.apis)


def _model_evidence(facts: CellFacts) -> bool:
    """Anything that ties the cell to a model: fitting, predicting, metrics, fitted attributes,
    model or model-result names (``clf``, ``y_pred``, ``rmse``), or a model being built."""
    return bool(
        facts.methods & (FIT_CALLS | PREDICT_CALLS | METRIC_CALLS)
        or facts.identifiers & FITTED_ATTRIBUTES
        or facts.words & (MODEL_RESULT_WORDS | MODEL_OBJECT_WORDS)
        or any(MODEL_CONSTRUCTOR.search(method) for method in facts.methods)
        or facts.uses_fitted_results
    )


@labeling_function()
def ext_setup_only(x: ParsedCell) -> int:
    """Only imports, magics, set-up calls (seeds, options, styles) and constants."""
    return Stage.IMPORT if _setup_only(cell_facts(x)) else ABSTAIN


@labeling_function()
def ext_looks_at_data(x: ParsedCell) -> int:
    """Only shows values (displayed expressions, prints, summaries) and binds nothing, with no
    sign of a model: looking at data (rubric: EXPLORE)."""
    facts = cell_facts(x)
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if not statements or not all(map(_shows, statements)):
        return ABSTAIN
    if any(s.mutates for s in statements) or _model_evidence(facts):
        return ABSTAIN
    return Stage.EXPLORE


@labeling_function()
def ext_prints_in_loop(x: ParsedCell) -> int:
    """Loops over the data to print it (``for col in df: print(col, df[col].isna().sum())``),
    beside nothing but shown values, with no plot and no sign of a model: looking at data
    (EXPLORE). Loop-local names may be bound; nothing is changed in place."""
    facts = cell_facts(x)
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    loops = [s for s in statements if s.kind == "loop"]
    if not loops or not all(s.shows for s in loops) or not all(_shows(s) for s in statements if s not in loops):
        return ABSTAIN
    if any(s.in_place for s in loops) or facts.methods & LOAD_CALLS or _plots(x, facts) or _model_evidence(facts):
        return ABSTAIN
    return Stage.EXPLORE


def _summarises_then_shows(facts: CellFacts) -> bool:
    """Binds an aggregation (``means = df.groupby(k).mean().reset_index()``) and shows it,
    changing, loading and reshaping nothing."""
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if len(statements) < 2 or not _shows(statements[-1]):
        return False
    if not all(_shows(s) or (s.kind == "assign" and not s.mutates) for s in statements[:-1]):
        return False
    if not any(s.kind == "assign" for s in statements):
        return False
    return bool(facts.methods & AGGREGATE_CALLS) and not facts.methods & (PREPARE_CALLS - SUMMARY_FINISHING_CALLS)


@labeling_function()
def ext_summarises_then_shows(x: ParsedCell) -> int:
    """Binds a summary of the data (group means, counts, a pivot table) and shows it:
    looking at data (EXPLORE), where ``ext_prepares_then_shows`` sees data preparation."""
    facts = cell_facts(x)
    if not _summarises_then_shows(facts) or _plots(x, facts) or _model_evidence(facts):
        return ABSTAIN
    return Stage.EXPLORE


@labeling_function()
def ext_prepares_then_shows(x: ParsedCell) -> int:
    """Binds or changes data and then shows it (``df = pd.read_csv(f)``; ``df.head()``): the
    cell prepares data and checks the result (rubric: WRANGLE)."""
    facts = cell_facts(x)
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if len(statements) < 2 or not _shows(statements[-1]):
        return ABSTAIN
    if not any(s.kind == "delete" or s.mutates or (s.kind == "assign" and s.callee in PREPARE_CALLS) for s in statements):
        return ABSTAIN
    if _plots(x, facts) or _model_evidence(facts) or any(s.kind in ("def", "class") for s in statements):
        return ABSTAIN
    return ABSTAIN if _summarises_then_shows(facts) else Stage.WRANGLE


@labeling_function()
def ext_prepares_data(x: ParsedCell) -> int:
    """Only assigns, changes or deletes data (no display, plot or model): it prepares data."""
    facts = cell_facts(x)
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if not statements or _setup_only(facts):
        return ABSTAIN
    if not all(s.kind in ("assign", "delete") or s.mutates for s in statements):
        return ABSTAIN
    if _plots(x, facts) or facts.methods & {"print", "display"} or _model_evidence(facts):
        return ABSTAIN
    if facts.words & HYPERPARAMETER_WORDS:
        return ABSTAIN
    return Stage.WRANGLE


@labeling_function()
def ext_plots_data(x: ParsedCell) -> int:
    """Plots, with no sign of a model (fitting, predictions, scores, fitted attributes)."""
    facts = cell_facts(x)
    return Stage.EXPLORE if _plots(x, facts) and not _model_evidence(facts) else ABSTAIN


@labeling_function()
def ext_plots_model_results(x: ParsedCell) -> int:
    """Plots of model output (training history, predictions, residuals, ROC, importances)."""
    facts = cell_facts(x)
    if _plots(x, facts) and _model_evidence(facts) and not facts.methods & FIT_CALLS:
        return Stage.EVALUATE
    return ABSTAIN


def _defined_words(facts: CellFacts) -> frozenset[str]:
    """Words of the names of the functions and classes a cell that only defines them defines
    (empty when the cell does anything else but import)."""
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if not statements or not all(s.kind in ("def", "class") for s in statements):
        return frozenset()
    return identifier_words({name for s in statements for name in s.defines})


def _trains_by_hand(facts: CellFacts) -> bool:
    """A loop that trains: backward passes and optimiser steps, ``train_on_batch``, or epochs
    over a loss, gradients or weights."""
    if not any(s.kind == "loop" for s in facts.statements):
        return False
    return bool(
        {"backward", "step"} <= facts.methods
        or facts.methods & TRAINING_CALLS
        or (facts.words & EPOCH_WORDS and facts.words & TRAINING_WORDS)
    )


@labeling_function()
def ext_defines_model(x: ParsedCell) -> int:
    """Defines a network class (nn.Module, keras Model...), runs a training loop, or only
    defines functions or classes named for modeling (``compute_cost``, ``sigmoid``,
    ``forward``, ``NeuralNetwork``): modeling written by hand."""
    facts = cell_facts(x)
    if any(s.kind == "class" and MODEL_BASES & set(s.bases) for s in facts.statements):
        return Stage.MODEL
    if _trains_by_hand(facts) or _defined_words(facts) & MODEL_FUNCTION_WORDS:
        return Stage.MODEL
    return ABSTAIN


@labeling_function()
def ext_defines_metric(x: ParsedCell) -> int:
    """Only defines functions named for judging a model (``mae``, ``evaluate``,
    ``compute_accuracy``) and none named for modeling: evaluation written by hand."""
    words = _defined_words(cell_facts(x))
    if words & METRIC_FUNCTION_WORDS and not words & MODEL_FUNCTION_WORDS:
        return Stage.EVALUATE
    return ABSTAIN


@labeling_function()
def ext_builds_estimator(x: ParsedCell) -> int:
    """Assigns a model object (``clf = RandomForestClassifier(...)``, ``model = Sequential()``)."""
    if any(s.kind == "assign" and MODEL_CONSTRUCTOR.search(s.callee) for s in cell_facts(x).statements):
        return Stage.MODEL
    return ABSTAIN


@labeling_function()
def ext_sets_up_search(x: ParsedCell) -> int:
    """Only assigns hyper-parameter grids (``param_grid = {...}``): search set-up (MODEL)."""
    facts = cell_facts(x)
    statements = [s for s in facts.statements if s.kind not in ("import", "magic")]
    if statements and all(s.kind == "assign" for s in statements) and facts.words & HYPERPARAMETER_WORDS:
        acts = facts.methods & (FIT_CALLS | PREDICT_CALLS | METRIC_CALLS)
        return ABSTAIN if acts or _plots(x, facts) else Stage.MODEL
    return ABSTAIN


@labeling_function()
def ext_scores_without_fitting(x: ParsedCell) -> int:
    """Computes a metric or test but fits nothing (fit-and-score cells are MODEL by the rubric)."""
    facts = cell_facts(x)
    return Stage.EVALUATE if _scores(x, facts) and not facts.methods & FIT_CALLS else ABSTAIN


@labeling_function()
def ext_inspects_fitted_model(x: ParsedCell) -> int:
    """Reads fitted attributes: coefficients, importances, best params, residuals, history."""
    facts = cell_facts(x)
    return Stage.EVALUATE if facts.identifiers & FITTED_ATTRIBUTES and not facts.methods & FIT_CALLS else ABSTAIN


@labeling_function()
def ext_reads_fitted_results(x: ParsedCell) -> int:
    """Calls a method of what a fit returned (a statsmodels ``summary()``, ``conf_int()``,
    ``resid``, a keras ``history``) without fitting: inspecting a fitted model (EVALUATE)."""
    facts = cell_facts(x)
    if facts.uses_fitted_results and not facts.methods & FIT_CALLS:
        return Stage.EVALUATE
    return ABSTAIN


@labeling_function()
def ext_predicts_or_shows_results(x: ParsedCell) -> int:
    """Predicts with a fitted model, or shows model-result values (``y_pred``, ``rmse``,
    ``p_value``), without fitting: judging a model (EVALUATE)."""
    facts = cell_facts(x)
    if facts.methods & FIT_CALLS or any(s.kind in ("def", "class") for s in facts.statements):
        return ABSTAIN
    if any(MODEL_CONSTRUCTOR.search(method) for method in facts.methods):
        return ABSTAIN
    if facts.methods & PREDICT_CALLS or facts.words & MODEL_RESULT_WORDS:
        return Stage.EVALUATE
    return ABSTAIN


def lfs() -> list[LabelingFunction]:
    return [
        *load_seed_lfs(SEEDS_DIR / "extended.yaml"),
        ext_setup_only,
        ext_looks_at_data,
        ext_prints_in_loop,
        ext_prepares_then_shows,
        ext_summarises_then_shows,
        ext_prepares_data,
        ext_plots_data,
        ext_plots_model_results,
        ext_defines_model,
        ext_defines_metric,
        ext_builds_estimator,
        ext_sets_up_search,
        ext_scores_without_fitting,
        ext_inspects_fitted_model,
        ext_reads_fitted_results,
        ext_predicts_or_shows_results,
    ]
