package io.jobwire.broker.dashboard;

import static io.jobwire.broker.testing.Slowness.scaled;

import java.io.File;
import java.time.Duration;
import java.util.function.Function;
import org.openqa.selenium.By;
import org.openqa.selenium.NoSuchElementException;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, which {@code .ci/run}
 * installs), driven by Selenium. No driver is downloaded: both binaries are named.
 */
final class Browser implements AutoCloseable {
    static final String CHROMIUM = System.getProperty("chromium.binary", "/usr/bin/chromium");
    static final String DRIVER = System.getProperty("chromium.driver", "/usr/bin/chromedriver");

    final ChromeDriver driver;

    Browser() {
        if (!new File(CHROMIUM).canExecute() || !new File(DRIVER).canExecute()) {
            throw new IllegalStateException("the dashboard tests need Debian's chromium and chromium-driver ("
                    + CHROMIUM + ", " + DRIVER + "): apt-get install chromium chromium-driver, as .ci/run does");
        }
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM)
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                        "--window-size=1360,900", "--no-first-run", "--disable-extensions");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(DRIVER))
                .usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(scaled(Duration.ofSeconds(30)));
    }

    void open(String url) {
        driver.get(url);
    }

    /**
     * The first element the selector matches, waited for: a click that submits a form returns before the
     * next page is there, so the element looked for may not be yet (seen in CI: the login's error, read
     * right after the click).
     */
    WebElement find(String css) {
        return waiting().ignoring(NoSuchElementException.class).until(d -> d.findElement(By.cssSelector(css)));
    }

    java.util.List<WebElement> all(String css) {
        return driver.findElements(By.cssSelector(css));
    }

    /**
     * Waits until the condition holds. A live page re-renders while it is read: an element found and
     * replaced before its text was read is looked for again, not an error.
     */
    <T> T await(Function<WebDriver, T> condition) {
        return waiting().ignoring(StaleElementReferenceException.class).until(condition);
    }

    /** A wait of up to 20 s, scaled to the machine. */
    private WebDriverWait waiting() {
        return new WebDriverWait(driver, scaled(Duration.ofSeconds(20)));
    }

    Object script(String js) {
        return driver.executeScript(js);
    }

    @Override
    public void close() {
        driver.quit();
    }
}
