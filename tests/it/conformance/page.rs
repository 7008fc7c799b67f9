//! Reading the app's pages with an HTML parser and CSS selectors: the form as a browser
//! would send it, the message next to a field, the notice, the conflict table.

use scraper::{ElementRef, Html, Selector};

/// A CSS selector; a typo in one is a bug in the test.
pub fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css:?}: {e:?}"))
}

/// Text with runs of white space made one space, trimmed.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An element's text, white space squashed.
pub fn text_of(element: ElementRef<'_>) -> String {
    squash(&element.text().collect::<String>())
}

/// A parsed page.
pub struct Page {
    pub html: Html,
}

impl Page {
    pub fn parse(body: &str) -> Page {
        Page {
            html: Html::parse_document(body),
        }
    }

    pub fn all(&self, css: &str) -> Vec<ElementRef<'_>> {
        self.html.select(&sel(css)).collect()
    }

    pub fn exists(&self, css: &str) -> bool {
        self.html.select(&sel(css)).next().is_some()
    }

    /// The one element matching `css`.
    pub fn one(&self, css: &str) -> ElementRef<'_> {
        let found = self.all(css);
        assert_eq!(found.len(), 1, "exactly one {css:?} on the page");
        found[0]
    }

    /// The text of the one element matching `css`.
    pub fn text(&self, css: &str) -> String {
        text_of(self.one(css))
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.all(css).into_iter().map(text_of).collect()
    }

    pub fn h1(&self) -> String {
        self.text("h1")
    }

    /// The notice a redirect's `done=` shows, if any.
    pub fn notice(&self) -> Option<String> {
        self.texts("p.notice[role=status]").into_iter().next()
    }

    /// The `href` of every link.
    pub fn links(&self) -> Vec<String> {
        self.all("a[href]")
            .into_iter()
            .filter_map(|a| a.attr("href").map(str::to_string))
            .collect()
    }

    /// Whether a form posts to `action` (a button such as Archive or Restore).
    pub fn has_form_to(&self, action: &str) -> bool {
        self.all("form[method=post]")
            .into_iter()
            .any(|f| f.attr("action") == Some(action))
    }

    /// The form that edits the record: the one carrying its version.
    pub fn record_form(&self) -> ElementRef<'_> {
        let version = sel("input[name=version]");
        let forms: Vec<ElementRef<'_>> = self
            .all("form")
            .into_iter()
            .filter(|f| f.select(&version).next().is_some())
            .collect();
        assert_eq!(forms.len(), 1, "one form carries a version");
        forms[0]
    }

    /// The form posting to `action`.
    pub fn form_to(&self, action: &str) -> ElementRef<'_> {
        let forms: Vec<ElementRef<'_>> = self
            .all("form")
            .into_iter()
            .filter(|f| f.attr("action") == Some(action))
            .collect();
        assert_eq!(forms.len(), 1, "one form posts to {action}");
        forms[0]
    }

    /// What a browser would send from the record's form, without the CSRF token.
    pub fn submitted(&self) -> Form {
        Form::from_element(self.record_form())
    }

    /// The record form's control called `name`.
    pub fn control(&self, name: &str) -> ElementRef<'_> {
        control_in(self.record_form(), name)
            .unwrap_or_else(|| panic!("a control named {name:?} in the form"))
    }

    /// The message shown next to the record form's field `name`: the `.error-message` of
    /// the `.field` that holds the control.
    pub fn field_error(&self, name: &str) -> Option<String> {
        field_error_in(self.record_form(), name)
    }

    /// The summary above a form with errors.
    pub fn error_summary(&self) -> Option<String> {
        self.texts(".error-summary[role=alert]").into_iter().next()
    }

    /// The side-by-side table of a conflicting save.
    pub fn conflict(&self) -> Option<Conflict> {
        let section = self
            .all("section.conflict[role=alert]")
            .into_iter()
            .next()?;
        let heading = text_of(section.select(&sel("h2")).next()?);
        let rows = section
            .select(&sel("tbody tr"))
            .map(|tr| {
                let th = tr.select(&sel("th")).next().expect("a field name");
                let cells: Vec<String> = tr.select(&sel("td")).map(text_of).collect();
                assert_eq!(cells.len(), 2, "saved and typed");
                let differs = th.select(&sel("strong")).any(|s| text_of(s) == "(differs)");
                let label = text_of(th).replace("(differs)", "").trim().to_string();
                ConflictRow {
                    label,
                    differs,
                    saved: cells[0].clone(),
                    yours: cells[1].clone(),
                }
            })
            .collect();
        Some(Conflict { heading, rows })
    }

    /// `(term, definition)` of every `dt`/`dd` pair.
    pub fn definitions(&self) -> Vec<(String, String)> {
        self.all("dl > div")
            .into_iter()
            .filter_map(|d| {
                let term = d.select(&sel("dt")).next()?;
                let def = d.select(&sel("dd")).next()?;
                Some((text_of(term), text_of(def)))
            })
            .collect()
    }

    /// The definition of `term` in a `dl`.
    pub fn definition(&self, term: &str) -> String {
        self.definitions()
            .into_iter()
            .find(|(t, _)| t == term)
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("a definition of {term:?}"))
    }

    /// The text of every row of the tables matching `table`, cells joined by " | ".
    pub fn rows(&self, table: &str) -> Vec<String> {
        self.all(&format!("{table} tbody tr"))
            .into_iter()
            .map(|tr| {
                tr.select(&sel("th, td"))
                    .map(text_of)
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect()
    }

    /// The error page's explanation (`p.lead`).
    pub fn lead(&self) -> String {
        self.texts("p.lead").into_iter().next().unwrap_or_default()
    }
}

/// The control (input, select, textarea) called `name` inside `form`.
pub fn control_in<'a>(form: ElementRef<'a>, name: &str) -> Option<ElementRef<'a>> {
    form.select(&sel("input, select, textarea"))
        .find(|c| c.attr("name") == Some(name))
}

/// The `.error-message` of the `.field` holding the control `name`.
pub fn field_error_in(form: ElementRef<'_>, name: &str) -> Option<String> {
    let control = control_in(form, name)?;
    let field = control
        .ancestors()
        .filter_map(ElementRef::wrap)
        .find(|e| {
            e.value()
                .has_class("field", scraper::CaseSensitivity::CaseSensitive)
        })
        .unwrap_or_else(|| panic!("the control {name:?} sits in a .field"));
    field.select(&sel(".error-message")).next().map(text_of)
}

/// One line of the conflict table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRow {
    pub label: String,
    pub differs: bool,
    pub saved: String,
    pub yours: String,
}

#[derive(Debug)]
pub struct Conflict {
    pub heading: String,
    pub rows: Vec<ConflictRow>,
}

/// A form's fields in order, as a browser sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    /// Checkbox names: setting one to "" unticks it (a browser then sends nothing).
    pub checkboxes: Vec<String>,
}

impl Form {
    /// The successful controls of `form` (HTML's form submission rules, for the controls
    /// these pages use), the CSRF token left out.
    pub fn from_element(form: ElementRef<'_>) -> Form {
        let mut out = Form::default();
        for control in form.select(&sel("input, select, textarea")) {
            let Some(name) = control.attr("name") else {
                continue;
            };
            if name == "_csrf" || control.attr("disabled").is_some() {
                continue;
            }
            let value = match control.value().name() {
                "textarea" => Some(control.text().collect::<String>()),
                "select" => {
                    let options: Vec<ElementRef<'_>> = control.select(&sel("option")).collect();
                    options
                        .iter()
                        .find(|o| o.attr("selected").is_some())
                        .or(options.first())
                        .map(|o| o.attr("value").map_or_else(|| text_of(*o), str::to_string))
                }
                _ => match control.attr("type").unwrap_or("text") {
                    "checkbox" | "radio" => {
                        out.checkboxes.push(name.to_string());
                        control
                            .attr("checked")
                            .map(|_| control.attr("value").unwrap_or("on").to_string())
                    }
                    "submit" | "button" | "reset" | "file" | "image" => None,
                    _ => Some(control.attr("value").unwrap_or("").to_string()),
                },
            };
            if let Some(value) = value {
                out.fields.push((name.to_string(), value));
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Types `value` into `name` (a new field if the form has none such); "" unticks a
    /// checkbox.
    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() && self.checkboxes.iter().any(|c| c == name) {
            self.fields.retain(|(k, _)| k != name);
            return;
        }
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(field) => field.1 = value.to_string(),
            None => self.fields.push((name.to_string(), value.to_string())),
        }
    }

    pub fn set_all<'a>(&mut self, values: impl IntoIterator<Item = &'a (&'static str, String)>) {
        for (name, value) in values {
            self.set(name, value);
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(k, _)| k != name);
    }

    pub fn without(&self, names: &[&str]) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = self
            .fields
            .iter()
            .filter(|(k, _)| !names.contains(&k.as_str()))
            .cloned()
            .collect();
        fields.sort();
        fields
    }

    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}
