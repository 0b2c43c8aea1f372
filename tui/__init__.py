"""The Textual terminal dashboard: ``liveinsight dashboard`` (``tui.commands``).

It reads a running stack's HTTP query API only. To embed it (e.g. in ``liveinsight demo``)
call ``tui.app.run_dashboard(url, refresh=2.0, token=None, funnel=DEFAULT_FUNNEL)``; it
returns when the user quits.

    commands.py        the click command: flags, checks, help
    app.py             DashboardApp: Live and Insights screens, polling workers, keys
    feed.py            Feed: one polled set of endpoints, its state and its banner
    client.py          HttpSnapshotSource: six GETs (/health too) -> a Snapshot, three -> Insights
    snapshot.py        the typed Snapshot and the parsing of the API's JSON
    insights.py        the typed Insights (engagement, clicks, funnel), --funnel checks
    insights_view.py   the Insights screen's tiles and panels
    widgets.py         KPI tiles, bar lists, bar tables, the traffic chart
    sessions_table.py  the active-sessions DataTable, updated by diff
    help.py            the ? screen
    sanitize.py        untrusted strings -> literal, printable text
    humanize.py        counts, durations, rates as shown
    dashboard.tcss     the one stylesheet
"""
