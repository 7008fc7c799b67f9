//! The forms of the records people edit: what each form sends (strings, so nothing typed
//! is lost), the typed fields it becomes, and the rules between the two. Pure: the
//! database's own checks are in `store`, the pages in `web::admin`. The spreadsheet
//! import reads its rows with the same forms.

pub mod account;
pub mod api_token;
pub mod budget;
pub mod contribution;
pub mod contribution_event;
pub mod delivery;
pub mod item;
pub mod organisation;
pub mod rate;
pub mod result_area;
pub mod theme;

/// `yes` / `no`, for a checkbox in the side-by-side view of a conflict.
pub fn yes_no(ticked: bool) -> String {
    if ticked { "yes" } else { "no" }.to_string()
}
