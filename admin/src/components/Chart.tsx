/**
 * A uPlot line chart of daily series. uPlot styles its elements through the CSSOM (allowed by
 * the console's CSP, which forbids inline style attributes in HTML only), and its CSS is bundled
 * into app.css. The chart is decoration: the same numbers are in the table below it.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: number[];
  color: string;
  /** Right-hand axis (e.g. counts next to amounts). */
  right?: boolean;
}

export function Chart(props: { title: string; x: number[]; series: Series[]; leftLabel: string; rightLabel?: string }) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(),
      height: 220,
      series: [
        {},
        ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.right ? "r" : "y", points: { show: props.x.length < 40 } })),
      ],
      axes: [
        {},
        { scale: "y", label: props.leftLabel, size: 60 },
        ...(props.rightLabel ? [{ scale: "r", side: 1, label: props.rightLabel, grid: { show: false }, size: 50 }] : []),
      ],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { show: true },
    };
    const data: uPlot.AlignedData = [props.x, ...props.series.map((s) => s.values)];
    const plot = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={host} class="chart-host" aria-hidden="true" />
    </figure>
  );
}
