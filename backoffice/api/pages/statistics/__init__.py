"""The managers' statistics pages: the sales dashboard and the reports (sales, rankings, stock
and ageing, sell-through, top-up cards, shifts and cash), charts drawn on the server as SVG
(charts.py), every table downloadable through the API's exports."""

from fastapi import APIRouter

from backoffice.api.pages.statistics import dashboard, reports

router = APIRouter(include_in_schema=False)
router.include_router(dashboard.router)
router.include_router(reports.router)
