"""The review pages, included at /review/ (namespace "review")."""

from django.urls import path

from . import views

app_name = "review"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("decisions/", views.decision_log, name="decisions"),
    path("aliases/", views.alias_queue_view, name="aliases"),
    path("aliases/bulk/", views.alias_bulk, name="alias-bulk"),
    path("aliases/threshold/", views.alias_threshold, name="alias-threshold"),
    path("mappings/", views.mapping_queue_view, name="mappings"),
    path("mappings/confident/", views.mapping_confident, name="mapping-confident"),
    path("mappings/<int:pk>/", views.mapping_detail, name="mapping"),
    path("codes/", views.code_search, name="codes"),
    path("undo/", views.undo, name="undo"),
    path("adjudicate/", views.adjudicate_list, name="adjudicate"),
    path("adjudicate/<int:pk>/", views.adjudicate, name="adjudicate-sample"),
    path("agreement/", views.agreement_figures, name="agreement"),
    path("agreement.csv", views.agreement_csv, name="agreement-csv"),
    path("aliases/next/", views.review_next, {"kind": "aliases"}, name="alias-next"),
    path("mappings/next/", views.review_next, {"kind": "mappings"}, name="mapping-next"),
    path("aliases/release/", views.release_batch, {"kind": "aliases"}, name="alias-release"),
    path("mappings/release/", views.release_batch, {"kind": "mappings"}, name="mapping-release"),
]
# One URL per decision, so a URL names exactly what it does: /review/aliases/7/approve/.
urlpatterns += [
    path(f"aliases/<int:pk>/{action}/", views.alias_decide, {"action": action}, name=f"alias-{action}")
    for action in ("approve", "reject", "reopen")
]
urlpatterns += [
    path(f"mappings/<int:pk>/{action}/", views.mapping_decide, {"action": action}, name=f"mapping-{action}")
    for action in ("approve", "reject", "reopen", "refine", "replace")
]
# A queue row's folds, loaded when a reviewer opens them: /review/mappings/7/coder/.
urlpatterns += [
    path(f"mappings/<int:pk>/{part}/", views.mapping_fold, {"part": part}, name=f"mapping-{part}")
    for part in ("coder", "neighbours")
]
