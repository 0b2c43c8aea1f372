"""The Textual terminal dashboard: ``liveinsight dashboard`` (``tui.commands``).

It reads a running stack's HTTP query API only. To embed it (e.g. in ``liveinsight demo``)
call ``tui.app.run_dashboard(url, refresh=2.0, token=None)``; it returns when the user quits.

    commands.py        the click command: flags, checks, help
    app.py             DashboardApp: polling worker, banner, keys; run_dashboard()
    client.py          HttpSnapshotSource: the five GETs -> one Snapshot (httpx)
    snapshot.py        the typed Snapshot and the parsing of the API's JSON
    widgets.py         KPI tiles, bar lists, the traffic chart
    sessions_table.py  the active-sessions DataTable, updated by diff
    help.py            the ? screen
    sanitize.py        untrusted strings -> literal, printable text
    humanize.py        counts, durations, rates as shown
    dashboard.tcss     the one stylesheet
"""
