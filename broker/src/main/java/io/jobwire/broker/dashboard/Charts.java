package io.jobwire.broker.dashboard;

import java.time.Instant;
import java.util.List;
import java.util.Locale;

/** Line charts as inline SVG (no script, nothing the Content-Security-Policy would have to allow). */
final class Charts {
    private Charts() {
    }

    /** A chart of the last hour: one line per series, the time axis ending at now. */
    static Html chart(String title, Instant now, int width, int height, List<String> names, List<List<double[]>> series) {
        double max = 1;
        for (List<double[]> points : series) {
            for (double[] p : points) {
                max = Math.max(max, p[1]);
            }
        }
        double end = now.toEpochMilli();
        double start = end - Timeline.WINDOW.toMillis();
        int top = 18;
        int bottom = height - 16;
        Html svg = new Html().tag("<figure class=\"chart\"><figcaption>").text(title).tag("</figcaption>")
                .tag("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 ").text(width).tag(" ")
                .text(height).tag("\" width=\"").text(width).tag("\" height=\"").text(height).tag("\"><title>")
                .text(title).tag("</title>")
                .tag("<line class=\"axis\" x1=\"0\" y1=\"").text(bottom).tag("\" x2=\"").text(width).tag("\" y2=\"")
                .text(bottom).tag("\"/>")
                .tag("<text class=\"tick\" x=\"2\" y=\"12\">").text(number(max)).tag("</text>")
                .tag("<text class=\"tick\" x=\"2\" y=\"").text(height - 2).tag("\">-60 min</text>")
                .tag("<text class=\"tick\" text-anchor=\"end\" x=\"").text(width - 2).tag("\" y=\"").text(height - 2)
                .tag("\">now</text>");
        for (int s = 0; s < series.size(); s++) {
            StringBuilder points = new StringBuilder();
            for (double[] p : series.get(s)) {
                double x = (p[0] - start) / (end - start) * width;
                double y = bottom - p[1] / max * (bottom - top);
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", Math.max(0, x), y));
            }
            svg.tag("<polyline class=\"series s").text(s).tag("\" fill=\"none\" points=\"").text(points.toString().strip())
                    .tag("\"/>");
        }
        svg.tag("</svg><div class=\"legend\">");
        for (int s = 0; s < names.size(); s++) {
            svg.tag("<span class=\"key s").text(s).tag("\">").text(names.get(s)).tag("</span>");
        }
        return svg.tag("</div></figure>");
    }

    static String number(double value) {
        if (value >= 10_000) {
            return String.format(Locale.ROOT, "%.0fk", value / 1000);
        }
        if (value >= 100 || value == Math.rint(value)) {
            return String.format(Locale.ROOT, "%.0f", value);
        }
        return String.format(Locale.ROOT, "%.1f", value);
    }

    /** A small line of one series, for a table cell. */
    static Html sparkline(List<double[]> points, Instant now) {
        int width = 120;
        int height = 24;
        double max = 1;
        for (double[] p : points) {
            max = Math.max(max, p[1]);
        }
        double end = now.toEpochMilli();
        double start = end - Timeline.WINDOW.toMillis();
        StringBuilder line = new StringBuilder();
        for (double[] p : points) {
            line.append(String.format(Locale.ROOT, "%.1f,%.1f ", Math.max(0, (p[0] - start) / (end - start) * width),
                    height - 2 - p[1] / max * (height - 4)));
        }
        double last = points.isEmpty() ? 0 : points.get(points.size() - 1)[1];
        return new Html().tag("<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 120 24\" "
                        + "width=\"120\" height=\"24\"><polyline class=\"series s0\" fill=\"none\" points=\"")
                .text(line.toString().strip()).tag("\"/></svg> <span class=\"n\">").text(number(last)).tag("</span>");
    }
}
