// Charts: draws Plotly figures found in [data-figure] containers (filled by the charts work).
